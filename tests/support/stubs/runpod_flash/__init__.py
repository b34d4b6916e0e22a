"""Stand-in for the runpod_flash SDK as a deployed worker sees it (tests only).

On a worker the decorators leave functions and classes unchanged, so the
generated handlers call user code directly. Enum members are their names.
"""


class _EnumType(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return name


class GpuGroup(metaclass=_EnumType):
    pass


class GpuType(metaclass=_EnumType):
    pass


class CpuInstanceType(metaclass=_EnumType):
    pass


class DataCenter(metaclass=_EnumType):
    pass


class CudaVersion(metaclass=_EnumType):
    pass


class ServerlessScalerType(metaclass=_EnumType):
    pass


class _Resource:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LiveServerless(_Resource):
    pass


class CpuLiveServerless(_Resource):
    pass


class LiveLoadBalancer(_Resource):
    pass


class CpuLiveLoadBalancer(_Resource):
    pass


class ServerlessEndpoint(_Resource):
    pass


class CpuServerlessEndpoint(_Resource):
    pass


class LoadBalancerSlsResource(_Resource):
    pass


class CpuLoadBalancerSlsResource(_Resource):
    pass


class PodTemplate(_Resource):
    pass


class NetworkVolume(_Resource):
    pass


class Endpoint(_Resource):
    """``@Endpoint(...)`` on a function/class, or ``api.get(path)`` on routes."""

    def __call__(self, target):
        return target

    def _route(self, _path):
        return lambda function: function

    get = post = put = delete = patch = _route


def remote(*_args, **_kwargs):
    return lambda target: target
