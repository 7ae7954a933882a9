"""Read a synthesized CloudFormation template and resolve its intrinsic functions to local values.

The resolver knows the pseudo parameters (`AWS::Region` is us-east-1, `AWS::AccountId` is 123456789012),
template parameter defaults, `Fn::FindInMap`, and the physical ids that the runtime registers as it creates
resources (queue URL, table name, secret ARN, ...). Anything else raises `TemplateError` naming the logical
id.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

REGION: Final = "us-east-1"
ACCOUNT_ID: Final = "123456789012"
PARTITION: Final = "aws"
URL_SUFFIX: Final = "amazonaws.com"
DEFAULT_STACK_NAME: Final = "Switchboard"

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class TemplateError(Exception):
    """The template uses something the local runtime cannot run or resolve."""


@dataclass(frozen=True)
class Resource:
    """One entry of the template's `Resources` section."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    metadata: dict[str, Any]

    def tag(self, key: str) -> str | None:
        """The value of a tag given as a CloudFormation list of `{Key, Value}` (or as a plain mapping)."""
        tags = self.properties.get("Tags") or []
        if isinstance(tags, dict):
            value = tags.get(key)
            return value if isinstance(value, str) else None
        for entry in tags:
            if isinstance(entry, dict) and entry.get("Key") == key and isinstance(entry.get("Value"), str):
                return str(entry["Value"])
        return None


@dataclass(frozen=True)
class Template:
    """A parsed template. `path` is its file; asset paths are relative to `assets_dir` (the file's folder)."""

    document: dict[str, Any]
    path: Path
    stack_name: str = DEFAULT_STACK_NAME
    resources: dict[str, Resource] = field(init=False)

    def __post_init__(self) -> None:
        raw = self.document.get("Resources")
        if not isinstance(raw, dict):
            raise TemplateError(f"{self.path}: the template has no Resources section")
        resources = {
            logical_id: Resource(
                logical_id=logical_id,
                type=str(body.get("Type", "")),
                properties=dict(body.get("Properties") or {}),
                metadata=dict(body.get("Metadata") or {}),
            )
            for logical_id, body in raw.items()
        }
        object.__setattr__(self, "resources", resources)

    @classmethod
    def load(cls, path: Path) -> Template:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TemplateError(f"template not found: {path} (run `make synth` first)") from None
        except json.JSONDecodeError as exc:
            raise TemplateError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise TemplateError(f"{path} is not a CloudFormation template")
        return cls(document=document, path=path, stack_name=stack_name_for(path))

    @property
    def assets_dir(self) -> Path:
        return self.path.parent

    def of_type(self, *types: str) -> list[Resource]:
        return [resource for resource in self.resources.values() if resource.type in types]

    def get(self, logical_id: str) -> Resource:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TemplateError(f"no resource with logical id {logical_id!r} in the template") from None


def stack_name_for(path: Path) -> str:
    """`cdk.out/Switchboard.template.json` belongs to the stack `Switchboard`."""
    name = path.name
    return name.split(".template", 1)[0] if ".template" in name else DEFAULT_STACK_NAME


@dataclass
class Physical:
    """What a resource resolves to locally: its `Ref` value and its `Fn::GetAtt` attributes."""

    resource_type: str
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


class _NoValue:
    """`AWS::NoValue`: removes the property that holds it."""


NO_VALUE: Final = _NoValue()


class Resolver:
    """Resolves intrinsic functions against pseudo parameters and registered physical ids."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.physical: dict[str, Physical] = {}
        self._pseudo: dict[str, Any] = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": template.stack_name,
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{template.stack_name}/local"
            ),
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }

    def register(self, logical_id: str, ref: str, **attributes: str) -> Physical:
        resource_type = self.template.get(logical_id).type
        physical = Physical(resource_type=resource_type, ref=ref, attributes=dict(attributes))
        self.physical[logical_id] = physical
        return physical

    def resolve(self, value: Any, where: str = "") -> Any:
        """Resolve every intrinsic function inside `value` (dicts and lists recursively)."""
        if isinstance(value, dict):
            if len(value) == 1:
                (key, argument), *_ = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._intrinsic(key, argument, where)
            resolved_dict = {key: self.resolve(item, where) for key, item in value.items()}
            return {key: item for key, item in resolved_dict.items() if item is not NO_VALUE}
        if isinstance(value, list):
            resolved_list = [self.resolve(item, where) for item in value]
            return [item for item in resolved_list if item is not NO_VALUE]
        return value

    def resolve_str(self, value: Any, where: str) -> str:
        resolved = self.resolve(value, where)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, int | float | str):
            return str(resolved)
        raise TemplateError(f"{where}: expected a string, got {json.dumps(resolved)[:200]}")

    # -- intrinsic functions -------------------------------------------------------------------------------

    def _intrinsic(self, key: str, argument: Any, where: str) -> Any:
        if key == "Ref":
            return self._ref(str(argument), where)
        if key == "Fn::GetAtt":
            logical_id, attribute = _getatt_parts(argument, where)
            return self._getatt(logical_id, attribute, where)
        if key == "Fn::Join":
            return self._join(argument, where)
        if key == "Fn::Sub":
            return self._sub(argument, where)
        if key == "Fn::Select":
            return self._select(argument, where)
        if key == "Fn::Split":
            delimiter, source = _pair(argument, key, where)
            return self.resolve_str(source, where).split(str(delimiter))
        if key == "Fn::Base64":
            return base64.b64encode(self.resolve_str(argument, where).encode()).decode()
        if key == "Fn::FindInMap":
            return self._find_in_map(argument, where)
        raise TemplateError(f"{where}: {key} is not supported by the local runtime")

    def _ref(self, name: str, where: str) -> Any:
        if name in self._pseudo:
            return self._pseudo[name]
        parameters = self.template.document.get("Parameters") or {}
        if name in parameters:
            if "Default" not in parameters[name]:
                raise TemplateError(f"{where}: parameter {name!r} has no Default")
            return parameters[name]["Default"]
        if name in self.physical:
            return self.physical[name].ref
        if name in self.template.resources:
            resource_type = self.template.resources[name].type
            raise TemplateError(f"{where}: Ref to {name!r} ({resource_type}) is not supported locally")
        raise TemplateError(f"{where}: Ref to unknown logical id {name!r}")

    def _getatt(self, logical_id: str, attribute: str, where: str) -> str:
        physical = self.physical.get(logical_id)
        if physical is None:
            if logical_id in self.template.resources:
                resource_type = self.template.resources[logical_id].type
                raise TemplateError(
                    f"{where}: Fn::GetAtt {logical_id}.{attribute} ({resource_type}) is not supported locally"
                )
            raise TemplateError(f"{where}: Fn::GetAtt on unknown logical id {logical_id!r}")
        if attribute not in physical.attributes:
            raise TemplateError(
                f"{where}: Fn::GetAtt {logical_id}.{attribute}: attribute {attribute!r} of "
                f"{physical.resource_type} is not supported locally"
            )
        return physical.attributes[attribute]

    def _join(self, argument: Any, where: str) -> str:
        delimiter, items = _pair(argument, "Fn::Join", where)
        values = self.resolve(items, where)
        if not isinstance(values, list):
            raise TemplateError(f"{where}: Fn::Join expects a list, got {values!r}")
        return str(delimiter).join(self.resolve_str(item, where) for item in values)

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, raw_variables = _pair(argument, "Fn::Sub", where)
            variables = {name: self.resolve(value, where) for name, value in dict(raw_variables).items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self.resolve_str(variables[name], where)
            if "." in name and name not in self._pseudo:
                logical_id, attribute = name.split(".", 1)
                return self._getatt(logical_id, attribute, where)
            return self.resolve_str({"Ref": name}, where)

        return _SUB_VARIABLE.sub(replace, str(text))

    def _select(self, argument: Any, where: str) -> Any:
        index, items = _pair(argument, "Fn::Select", where)
        values = self.resolve(items, where)
        position = int(self.resolve(index, where))
        if not isinstance(values, list) or not 0 <= position < len(values):
            raise TemplateError(f"{where}: Fn::Select index {position} is out of range")
        return values[position]

    def _find_in_map(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise TemplateError(f"{where}: Fn::FindInMap expects [map, top key, second key]")
        name, top, second = (self.resolve_str(part, where) for part in argument)
        try:
            return self.template.document["Mappings"][name][top][second]
        except KeyError:
            raise TemplateError(f"{where}: Fn::FindInMap {name}/{top}/{second} not found") from None


class Properties:
    """A resource's properties, each resolved when it is read: unused ones (KMS keys, IAM) never fail."""

    def __init__(self, resolver: Resolver, resource: Resource) -> None:
        self._resolver = resolver
        self._resource = resource

    def __contains__(self, name: str) -> bool:
        return name in self._resource.properties

    def __getitem__(self, name: str) -> Any:
        if name not in self._resource.properties:
            raise TemplateError(f"{self._resource.logical_id}: property {name} is missing")
        return self.get(name)

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self._resource.properties:
            return default
        value = self._resolver.resolve(self._resource.properties[name], f"{self._resource.logical_id}.{name}")
        return default if value is NO_VALUE else value


def _pair(argument: Any, function: str, where: str) -> tuple[Any, Any]:
    if not isinstance(argument, list) or len(argument) != 2:
        raise TemplateError(f"{where}: {function} expects a list of two items, got {argument!r}")
    return argument[0], argument[1]


def _getatt_parts(argument: Any, where: str) -> tuple[str, str]:
    if isinstance(argument, str) and "." in argument:
        logical_id, attribute = argument.split(".", 1)
        return logical_id, attribute
    if isinstance(argument, list) and len(argument) == 2 and all(isinstance(part, str) for part in argument):
        return argument[0], argument[1]
    raise TemplateError(f"{where}: malformed Fn::GetAtt {argument!r}")


def references(value: Any) -> set[str]:
    """The logical ids (and parameter names) a value refers to through Ref, Fn::GetAtt and Fn::Sub."""
    return set(_walk_references(value))


def _walk_references(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _walk_references(item)
        return
    if not isinstance(value, dict):
        return
    if len(value) == 1:
        (key, argument), *_ = value.items()
        if key == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
            yield argument
            return
        if key == "Fn::GetAtt":
            if isinstance(argument, str):
                yield argument.split(".", 1)[0]
            elif isinstance(argument, list) and argument and isinstance(argument[0], str):
                yield argument[0]
            return
        if key == "Fn::Sub":
            text = argument if isinstance(argument, str) else (argument[0] if argument else "")
            local = set(argument[1]) if isinstance(argument, list) and len(argument) > 1 else set()
            for name in _SUB_VARIABLE.findall(str(text)):
                if name.startswith("!") or name.startswith("AWS::") or name in local:
                    continue
                yield name.split(".", 1)[0]
            if isinstance(argument, list) and len(argument) > 1:
                yield from _walk_references(argument[1])
            return
    for item in value.values():
        yield from _walk_references(item)


def dependency_order(resources: Iterable[Resource]) -> list[Resource]:
    """Order resources so that each comes after the ones it references (stable, Kahn's algorithm)."""
    pending = {resource.logical_id: resource for resource in resources}
    needs = {
        logical_id: references(resource.properties) & pending.keys() - {logical_id}
        for logical_id, resource in pending.items()
    }
    ordered: list[Resource] = []
    while pending:
        ready = [logical_id for logical_id in pending if not needs[logical_id] & pending.keys()]
        if not ready:
            raise TemplateError(f"circular references between {sorted(pending)}")
        for logical_id in ready:
            ordered.append(pending.pop(logical_id))
    return ordered
