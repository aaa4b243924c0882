"""Sage X3 connector: SOAP CAdxWebServiceXmlCC writes, Syracuse api1 REST reads.

    target = X3Target.from_settings(url, user, password, pool, folder, pool_size=4)
"""

from .target import X3Target

__all__ = ["X3Target"]
