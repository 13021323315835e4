"""Errors a user can act on. Jobs print their message and exit non-zero, never a traceback."""


class MonorecError(Exception):
    """Base class: the message alone must tell the user what went wrong and what to do."""


class ConfigError(MonorecError):
    """A config file or --set override names an unknown key or holds a value of the wrong type."""


class MissingExtraError(MonorecError):
    """A job needs an optional extra that is not installed (`monorec.extras.require`)."""


class SearchError(MonorecError):
    """A search ended without a result to keep (every trial failed or was infeasible)."""


class DataError(MonorecError):
    """Input data is missing, malformed, empty or fails its checksum."""


class InvalidRequestError(MonorecError, ValueError):
    """A request that cannot be carried out (e.g. an item edit naming no item).

    A ValueError too, so that pydantic reports it as a validation error (HTTP 422) when it is
    raised while an HTTP body is validated into a monorec type.
    """


class ConflictError(MonorecError):
    """A valid request this model cannot satisfy: a target no strength reaches, scores pushed out of
    the finite range (HTTP 409: the body is fine, the data says no)."""


class UnknownIdError(MonorecError, KeyError):
    """An original user or item id that the dataset does not contain."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
