"""The model file: a scikit-learn Pipeline saved with skops (no pickle), byte-reproducible, and
loaded only after its types are checked against an explicit list and, for a registered model, its
hash against the one in the registration tag. Imports nothing of the training stack, so serving
can use it; skops (and with it scikit-learn, SciPy and pandas: about 3 s) only when a model is
saved or loaded, so the steps that only hash the file (versions, promote, model-changed) start
in a fraction of that."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from actions_mlops.core.config import MODEL_FILE, own_package
from actions_mlops.core.errors import StepError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# Where skops writes id(obj): an object's "__id__" and the file name of its array.
OBJECT_ID = re.compile(r'(?<="__id__": )\d+|(?<="file": ")\d+(?=\.npy")')

# skops loads its own list of safe types (scikit-learn estimators, containers, NumPy arrays) and
# reports every other type in a file; load_model accepts only the reported types listed here, by
# exact name. These are what this project's pipelines produce with the estimators of
# sklearn.ensemble (random forests, extra trees, gradient boosting, histogram gradient boosting),
# sklearn.linear_model, sklearn.tree and sklearn.dummy. skops does not trust the two tree types by
# default: a crafted file's node indices can make `predict` read out of bounds or crash, which is
# why a registered model is also checked against its recorded hash. Another estimator may need a
# type of its own: `make train` then names it; review it and add it here.
# Also trusted: the types the project's own package defines (own_types), e.g. a transformer
# class of its features.py: the owner's code, reviewed with the model's commit and run by
# training anyway. Anything else, however it is named, is refused.
TRUSTED_TYPES = frozenset(
    {
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)
HASH_ALGORITHMS = ("sha256", "md5")  # strongest first


class ModelFileError(StepError, ValueError):
    """A model file that must not be loaded; the message is one line saying why."""


def save_model(model: Pipeline, path: Path = MODEL_FILE) -> None:
    """Persist without pickle (skops); the same model always gives the same bytes, so a re-run of
    the pipeline leaves dvc.lock unchanged. Refuses a model load_model would refuse."""
    import skops.io as sio

    archive = reproducible(sio.dumps(model))
    check_types(sio.get_untrusted_types(data=archive), path, own_package())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(archive)


def reproducible(archive: bytes) -> bytes:
    """The skops archive with its object ids (memory addresses) renumbered in order of first
    appearance and its timestamps fixed; loading it gives the same model."""
    source = zipfile.ZipFile(io.BytesIO(archive))
    schema = source.read("schema.json").decode("utf-8")
    numbers: dict[str, str] = {}
    for match in OBJECT_ID.finditer(schema):
        numbers.setdefault(match.group(), str(len(numbers)))
    members = {}
    for name in source.namelist():
        stem, dot, extension = name.partition(".")
        members[numbers.get(stem, stem) + dot + extension] = source.read(name)
    members["schema.json"] = OBJECT_ID.sub(lambda m: numbers[m.group()], schema).encode("utf-8")
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as target:
        for name, data in sorted(members.items()):
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            target.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
    return output.getvalue()


def own_types(reported: list[str], package: str | None) -> set[str]:
    """The reported types that `package` (the project's own) defines: a class or function of
    one of its modules, defined there. A name the module only imports is not its own
    (`from subprocess import Popen` in features.py does not make `<package>.features.Popen`
    trusted), nor is a module outside the package however it is named."""
    own = set()
    for name in reported if package else []:
        module, _, attribute = name.rpartition(".")
        if module != package and not module.startswith(f"{package}."):
            continue
        try:
            found = getattr(importlib.import_module(module), attribute)
        except Exception:  # importing runs the owner's code: not importable, not trusted
            continue
        defined = inspect.isclass(found) or inspect.isfunction(found)
        if defined and found.__module__ == module and found.__qualname__ == attribute:
            own.add(name)
    return own


def check_types(reported: list[str], path: Path, package: str | None) -> None:
    """Refuse the types skops reports as unsafe unless TRUSTED_TYPES lists them exactly or
    `package`, the project's own, defines them."""
    refused = sorted(set(reported) - TRUSTED_TYPES - own_types(reported, package))
    if refused:
        raise ModelFileError(
            f"{path}: refusing to load type {', '.join(refused)}: not in TRUSTED_TYPES of "
            f"{Path(__file__).name} nor defined by this project's package "
            f"({package or 'none in src/'}); add it there only if your estimator needs it"
        )


def load_model(path: Path = MODEL_FILE, package: str | None = None) -> Pipeline:
    """Load a model saved by save_model. The file's types are checked before anything in it is
    built: skops's own safe list, TRUSTED_TYPES by exact name, and those `package` (default: the
    project's own, src/<package>/) defines; ModelFileError otherwise."""
    import skops.io as sio

    try:
        reported = sio.get_untrusted_types(file=path)
    except Exception as error:  # a damaged or foreign file: skops raises many kinds of error
        raise ModelFileError(f"{path}: not a readable skops file ({first_line(error)})") from None
    check_types(reported, path, package or own_package())
    try:
        return sio.load(path, trusted=reported)
    except Exception as error:
        raise ModelFileError(f"{path}: cannot be loaded ({first_line(error)})") from None


def first_line(error: Exception) -> str:
    """An exception's message, cut to its first line."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


@dataclass(frozen=True)
class RecordedHash:
    """The hash of the model file recorded at registration."""

    algorithm: str  # one of HASH_ALGORITHMS
    digest: str


def recorded_hash(tag_message: str, path: Path = MODEL_FILE) -> RecordedHash | None:
    """The strongest hash on the registration tag's line `model: <path> md5:<hex> [sha256:<hex>]`,
    or None when the message has no such line, or more than one `model:` line (a forged one:
    registry.tag_message writes exactly one and refuses a value with a newline)."""
    lines = re.findall(r"^model: (.*)$", tag_message, re.MULTILINE)
    prefix = f"{path.as_posix()} "
    if len(lines) != 1 or not lines[0].startswith(prefix):
        return None
    hashes = dict(re.findall(r"\b(\w+):([0-9a-f]+)\b", lines[0].removeprefix(prefix)))
    for algorithm in HASH_ALGORITHMS:
        if algorithm in hashes:
            return RecordedHash(algorithm, hashes[algorithm])
    return None


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file (md5 is what DVC and older registrations record)."""
    digest = hashlib.new(algorithm, usedforsecurity=algorithm != "md5")
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_hash(path: Path, tag_message: str, source: str) -> RecordedHash:
    """Refuse `path` (ModelFileError) unless its hash is the one the registration tag `source`
    records for the model file; return that hash."""
    recorded = recorded_hash(tag_message)
    if recorded is None:
        raise ModelFileError(f"{source} records no hash for {MODEL_FILE}: cannot verify {path}")
    actual = file_hash(path, recorded.algorithm)
    if actual != recorded.digest:
        raise ModelFileError(
            f"{path}: {recorded.algorithm} {actual} is not the {recorded.digest} registered in "
            f"{source}; refusing it"
        )
    return recorded
