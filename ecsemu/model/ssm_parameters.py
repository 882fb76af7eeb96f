"""SSM Parameter Store parameters: kind ``ssm.parameter``, id the parameter's name as created
(``/app/db/password`` or ``plain-name``).

Stored as JSON (keys are SSM's own member names)::

    {"spec": {                                   # written by the SSM API only
        "Name": str,
        "Tags": [{"Key": str, "Value": str}],
        "Versions": [                            # oldest first, at most MAX_VERSIONS
            {"Version": int, "Type": "String" | "StringList" | "SecureString",
             "Value": str,                       # the plain value, SecureString too
             "Ciphertext"?: str,                 # SecureString: what a read without decryption shows
             "KeyId"?: str,                      # SecureString only (default alias/aws/ssm)
             "Description"?: str, "AllowedPattern"?: str,
             "Tier": "Standard" | "Advanced", "DataType": "text",
             "LastModifiedDate": float, "LastModifiedUser": str, "Labels": [str]}]},
     "status": {}}

Vocabulary
----------
version
    Each PutParameter that changes a parameter adds one, numbered one past the newest; each
    carries the whole description of the parameter as it was then (GetParameterHistory shows
    them). The newest is the parameter's current state. AWS keeps the last 100: the 101st
    write drops the oldest (refused when the oldest carries a label).
selector
    ``name:<version>`` or ``name:<label>`` picks one version in GetParameter(s).
ARN
    ``arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>``.

Readers use :class:`Parameter` (``Parameter.from_record``); ECS resolves a container's
``secrets[].valueFrom`` through :func:`resolve_parameter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.model.secret_refs import SecretNotFound
from ecsemu.state.store import Store

__all__ = [
    "KIND",
    "Parameter",
    "ParameterVersion",
    "SecretNotFound",
    "candidate_names",
    "find_parameter",
    "parameter_arn",
    "parse_arn",
    "resolve_parameter",
    "split_selector",
]

KIND: Final = "ssm.parameter"
SERVICE: Final = "ssm"
MAX_VERSIONS: Final = 100
MAX_HIERARCHY_LEVELS: Final = 15
STANDARD_VALUE_LIMIT: Final = 4096
ADVANCED_VALUE_LIMIT: Final = 8192
DEFAULT_KEY_ID: Final = "alias/aws/ssm"
TYPES: Final = ("String", "StringList", "SecureString")
SECURE_STRING: Final = "SecureString"

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParameterVersion:
    """One version of a parameter, as GetParameterHistory lists it."""

    version: int
    type: str
    value: str
    tier: str
    data_type: str
    last_modified_date: float
    last_modified_user: str
    labels: tuple[str, ...] = ()
    ciphertext: str | None = None
    key_id: str | None = None
    description: str | None = None
    allowed_pattern: str | None = None

    @classmethod
    def from_record(cls, entry: Mapping[str, Any]) -> ParameterVersion:
        return cls(
            version=int(entry["Version"]),
            type=str(entry["Type"]),
            value=str(entry["Value"]),
            tier=str(entry.get("Tier", "Standard")),
            data_type=str(entry.get("DataType", "text")),
            last_modified_date=float(entry["LastModifiedDate"]),
            last_modified_user=str(entry.get("LastModifiedUser", "")),
            labels=tuple(entry.get("Labels", ())),
            ciphertext=entry.get("Ciphertext"),
            key_id=entry.get("KeyId"),
            description=entry.get("Description"),
            allowed_pattern=entry.get("AllowedPattern"),
        )

    def shown_value(self, with_decryption: bool) -> str:
        """The value a read answers: a SecureString read without decryption shows its ciphertext."""
        if self.type == SECURE_STRING and not with_decryption:
            return self.ciphertext or ""
        return self.value


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    versions: tuple[ParameterVersion, ...]
    tags: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Parameter:
        spec = record["spec"]
        return cls(
            name=str(spec["Name"]),
            versions=tuple(ParameterVersion.from_record(entry) for entry in spec["Versions"]),
            tags=tuple((str(tag["Key"]), str(tag["Value"])) for tag in spec.get("Tags", ())),
        )

    @property
    def current(self) -> ParameterVersion:
        return self.versions[-1]

    def select(self, selector: str | None) -> ParameterVersion | None:
        """The version ``selector`` names (a number or a label); the current one without one."""
        if not selector:
            return self.current
        if selector.isdigit():
            number = int(selector)
            return next((entry for entry in self.versions if entry.version == number), None)
        return next((entry for entry in self.versions if selector in entry.labels), None)


def parameter_arn(scope: Scope, name: str) -> str:
    return f"arn:aws:{SERVICE}:{scope.region}:{scope.account_id}:parameter/{name.removeprefix('/')}"


def parse_arn(text: str) -> tuple[Scope, str] | None:
    """``(scope, resource after "parameter/")`` of a parameter ARN; None when ``text`` is not one."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != SERVICE or not parts[5].startswith("parameter/"):
        return None
    resource = parts[5].removeprefix("parameter/")
    if not resource or not parts[3] or not parts[4]:
        return None
    return Scope(parts[4], parts[3]), resource


def split_selector(name: str) -> tuple[str, str | None]:
    """``("name", "3")`` for ``name:3``; names never hold a ``:`` (ARNs do: the selector is the
    part after the ARN's sixth field)."""
    if name.startswith("arn:"):
        parts = name.split(":", 6)
        if len(parts) == 7:
            return ":".join(parts[:6]), parts[6]
        return name, None
    base, colon, selector = name.partition(":")
    return (base, selector) if colon else (name, None)


def find_parameter(store: Store, scope: Scope, name: str) -> Parameter | None:
    """The parameter stored under exactly ``name`` in ``scope``."""
    record = store.get(scope, KIND, name)
    return None if record is None else Parameter.from_record(record)


def candidate_names(resource: str) -> list[str]:
    """The names a reference may mean: as written first, then with or without a leading slash
    (an ARN drops the slash of a hierarchical name, so ``a/b`` can only be ``/a/b``)."""
    if resource.startswith("/"):
        return [resource, resource.removeprefix("/")]
    if "/" in resource:
        return ["/" + resource]
    return [resource, "/" + resource]


def resolve_parameter(store: Store, scope: Scope, value_from: str) -> str:
    """The (decrypted) value of the parameter ``value_from`` names, as ECS's ``secrets[].valueFrom``
    gives it: a name, with or without its leading slash, or an ARN (whose own account and region
    are looked in); raises :class:`SecretNotFound` when it names nothing."""
    reference, selector = split_selector(value_from.strip())
    where, resource = scope, reference
    if reference.startswith("arn:"):
        parsed = parse_arn(reference)
        if parsed is None:
            raise SecretNotFound(f"ValidationException: Invalid parameter ARN: {value_from}")
        where, resource = parsed
    for name in candidate_names(resource):
        parameter = find_parameter(store, where, name)
        if parameter is None:
            continue
        chosen = parameter.select(selector)
        if chosen is None:
            raise SecretNotFound(
                f"ParameterVersionNotFound: Systems Manager could not find version {selector} of {name}."
            )
        return chosen.value
    raise SecretNotFound(f"ParameterNotFound: Parameter {reference} not found.")
