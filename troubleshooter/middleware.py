"""Response headers that Django's own settings do not cover."""

from django.conf import settings


class SecurityHeadersMiddleware:
    """Adds Cross-Origin-Resource-Policy, which Django has no setting for."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault(
            "Cross-Origin-Resource-Policy", settings.CROSS_ORIGIN_RESOURCE_POLICY
        )
        return response
