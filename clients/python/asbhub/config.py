"""Key files and the client config, read as asbctl reads them.

A key file (``asbctl keys generate NAME`` writes NAME.key, mode 0600, and NAME.pub) is YAML of
schema ``asb.config.v1.CurveKeyFile``::

    name: "police-partner"
    public_key: "...40 Z85 characters..."
    secret_key: "...40 Z85 characters..."   # only in NAME.key

The client config (config/asbctl.yaml, schema ``asb.config.v1.ClientConfig``) names each
daemon's endpoint and the keys folder; ``${VAR}`` and ``${VAR:-default}`` take values from the
environment, and relative paths are relative to the working directory.
"""

import os
import re
import stat
from dataclasses import dataclass

import yaml
import zmq
from zmq.utils import z85
from google.protobuf import json_format

from ._proto import common_pb2, daemons_pb2

# The daemon names of the client config's endpoints, and the key kind each role's file carries
# (keys_dir/<as>-<kind>.key, as asbctl looks them up).
DAEMONS = ("intake", "sharing", "notify", "audit")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """A config or key file that cannot be used; the message names the file and the problem."""


def expand_env(text, path="config"):
    """Replaces ${VAR} and ${VAR:-default} (an empty VAR counts as unset), as the hub does."""

    def value(match):
        name, default = match.group(1), match.group(2)
        got = os.environ.get(name, "")
        if got:
            return got
        if default is not None:
            return default
        line = text.count("\n", 0, match.start()) + 1
        raise ConfigError(f"{path}:{line}: environment variable {name} is not set")

    return _ENV_REF.sub(value, text)


def _load_yaml(path, message, expand):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    if expand:
        text = expand_env(text, path)
    try:
        data = yaml.safe_load(text) or {}
        return json_format.ParseDict(data, message)
    except (yaml.YAMLError, json_format.ParseError) as e:
        raise ConfigError(f"{path}: {e}") from None


@dataclass(frozen=True)
class KeyPair:
    """A CurveZMQ key pair (Z85 text); secret_key is empty for a public key file."""

    name: str
    public_key: str
    secret_key: str = ""


def is_z85_key(key):
    """True for 40 Z85 characters that decode to 32 bytes."""
    if len(key) != 40:
        return False
    try:
        return len(z85.decode(key)) == 32
    except (ValueError, KeyError):
        return False


def load_key_file(path, require_secret=False):
    """Reads a key file. With require_secret: a secret key is needed, the file must be private
    (mode 0600) and its public key must be the secret key's own — otherwise every handshake
    would fail at the hub without a reason the client could see."""
    f = _load_yaml(path, common_pb2.CurveKeyFile(), expand=False)  # key files are literal
    if not is_z85_key(f.public_key):
        raise ConfigError(f"{path}: public_key: must be a 40-character Z85 key")
    if require_secret:
        if not is_z85_key(f.secret_key):
            raise ConfigError(f"{path}: secret_key: required, a 40-character Z85 key")
        if zmq.curve_public(f.secret_key.encode()).decode() != f.public_key:
            raise ConfigError(
                f"{path}: public_key does not belong to secret_key (the two halves come from "
                "different key pairs; regenerate with asbctl keys generate)")
        if os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path}: secret key file is readable by others; chmod 600 it")
    return KeyPair(f.name, f.public_key, f.secret_key if require_secret else "")


def load_client_config(path):
    """The client config (asb.config.v1.ClientConfig) with the environment expanded."""
    config = _load_yaml(path, daemons_pb2.ClientConfig(), expand=True)
    if not config.keys_dir:
        raise ConfigError(f"{path}: keys_dir: required")
    return config


def endpoint_of(config, daemon):
    """The endpoint the client config names for `daemon` ("intake", ...)."""
    endpoint = getattr(config, f"{daemon}_endpoint")
    if not endpoint:
        raise ConfigError(f"client config has no {daemon}_endpoint")
    return endpoint


def principal_key_file(config, name, kind):
    """keys_dir/NAME.key if it exists, else keys_dir/NAME-KIND.key (as asbctl's --as)."""
    plain = os.path.join(config.keys_dir, f"{name}.key")
    if os.path.exists(plain):
        return plain
    kinded = os.path.join(config.keys_dir, f"{name}-{kind}.key")
    if os.path.exists(kinded):
        return kinded
    raise ConfigError(f"no key for '{name}': looked for {plain} and {kinded}")
