"""Package: the registered model into BentoML's model store, then a bento of the same version.

`make package` needs HEAD to be a registered version (`make register`) and the workspace model
to be the one registered (its hash is in the tag message). Both the BentoML model and the bento
are tagged `<model>:<version>`, e.g. `churn-model:v1.2.0`. Packaging a version twice reuses them
once their files and labels show they are this project's registered model: an entry of this
project with other files is rebuilt; an entry of another project (same model name, same store) is
refused with the command that removes it, since deleting it would break that project's bento.
The bento's Python packages are those bentofile.yaml lists and everything they require, each
pinned to its version in uv.lock (the lock `make setup` installs from), so the image serves
with the libraries that trained the model and carries nothing only training needs.

Before anything is stored, the service's fast path (serving/fastpath.py: the preprocessing
compiled into numpy) must predict what the pipeline predicts on the whole test split, within
fastpath.TOLERANCE; packaging refuses otherwise. A pipeline the compiler does not know is
packaged as it is: the service then preprocesses with the pipeline.

The bento carries the project's own package (src/<package>/) next to actions_mlops' serving
part: the model may hold types it defines (a transformer of features.py) and the service's hooks
(params `serve.preprocess`, `serve.postprocess`) are its functions, checked importable first.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Any

import bentoml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from actions_mlops.core import git
from actions_mlops.core.config import (
    BENTOFILE,
    CONTRACT_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PYTHON_VERSION_FILE,
    SOURCE_DIR,
    TEST_SPLIT,
    Params,
    load_params,
    own_package,
    serving_args,
)
from actions_mlops.core.modelfile import (
    ModelFileError,
    file_hash,
    load_model,
    verify_hash,
)
from actions_mlops.core.typed import ConfigError, read_yaml
from actions_mlops.data.contract import load_contract
from actions_mlops.data.tables import read_table
from actions_mlops.release.bentofile import (
    bentofile_problems,
    project_includes,
    required_closure,
)
from actions_mlops.release.registry import RegistryError
from actions_mlops.release.versions import head_version
from actions_mlops.serving.fastpath import (
    TOLERANCE,
    CompileError,
    compile_features,
    largest_difference,
)
from actions_mlops.serving.hooks import Hooks

LOCK_FILE = Path("uv.lock")
# The installed actions_mlops package: the bento's code (bentofile.yaml's `include` picks its
# serving part) and the image's Dockerfile template, which ships next to this module.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
DOCKERFILE_TEMPLATE = Path(__file__).with_name("bento.Dockerfile.j2")


def registered_head(model: str) -> tuple[str, str]:
    """(version, commit) of HEAD, which must be registered with the workspace's model file."""
    registered = head_version(model)
    if registered is None:
        head = (git.head() or "no commit yet")[:12]
        raise RegistryError(f"HEAD ({head}) is not a registered version: `make register`")
    try:
        verify_hash(MODEL_FILE, registered.message, f"tag {registered.tag}")
    except ModelFileError as error:
        raise RegistryError(f"{error}: `dvc checkout {MODEL_FILE}`") from None
    return registered.version, registered.commit


def check_fast_path() -> str:
    """How the service will preprocess: "compiled" once the fast path agrees with the pipeline
    on the whole test split, else why not; RegistryError when they disagree."""
    contract, model = load_contract(CONTRACT_FILE), load_model(MODEL_FILE)
    try:
        compiled = compile_features(model, contract)
    except CompileError as error:
        return f"the pipeline's, per request (not compiled: {error})"
    if not TEST_SPLIT.is_file():
        raise RegistryError(f"{TEST_SPLIT} is missing, the fast path cannot be checked: `dvc pull`")
    difference = largest_difference(model, compiled, read_table(TEST_SPLIT, contract), contract)
    if not difference <= TOLERANCE:
        raise RegistryError(
            f"the fast path (serving/fastpath.py) predicts {TEST_SPLIT} differently from "
            f"{MODEL_FILE}: largest difference {difference:.3g}, allowed {TOLERANCE:g}"
        )
    return f"compiled, equal to the pipeline on {TEST_SPLIT} (largest difference {difference:.3g})"


def project_identity() -> str:
    """Which project this is, beyond its model name: the URL of its origin remote (without any
    credentials in it: labels ship inside the bento), else the folder of its git repository."""
    url = git.remote_url("origin")
    origin = re.sub(r"//[^/@]*@", "//", url) if url else ""
    return origin or git.git("rev-parse", "--show-toplevel").strip()


def expected_labels(params: Params, version: str, commit: str) -> dict[str, str]:
    """The labels that bind a store entry to this project's registered model."""
    return {
        "version": version,
        "commit": commit,
        "task": params.task,
        "repository": project_identity(),
        "model_sha256": file_hash(MODEL_FILE),
        "contract_sha256": file_hash(CONTRACT_FILE),
    }


def mismatch(kind: str, tag: str, found: dict[str, str], expected: dict[str, str]) -> str | None:
    """Why the stored `kind` (model or bento) `tag` is not this project's registered model, else
    None; another project's entry raises RegistryError with the command that removes it."""
    differing = [key for key, value in expected.items() if found.get(key) != value]
    if not differing:
        return None
    if found.get("repository") != expected["repository"]:
        raise RegistryError(
            f"the BentoML store already holds {kind} {tag} of another project "
            f"({found.get('repository', 'unlabelled')}); remove it with `bentoml delete {tag} -y"
            f" && bentoml models delete {tag} -y`, or set BENTOML_HOME to a store of your own"
        )
    return f"{', '.join(differing)} differ"


def save_model(params: Params, version: str, commit: str) -> bentoml.Model:
    """The model file and its contract in the BentoML store, with labels and metrics. A stored
    entry is reused only when its files are this project's registered ones."""
    tag = f"{params.registry.model}:{version}"
    labels = expected_labels(params, version, commit)
    try:
        stored = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        pass
    else:
        found = {
            **stored.info.labels,
            "model_sha256": file_hash(Path(stored.path_of(MODEL_FILE.name))),
            "contract_sha256": file_hash(Path(stored.path_of(CONTRACT_FILE.name))),
        }
        reason = mismatch("model", tag, found, labels)
        if reason is None:
            return stored
        print(f"package: rebuilding model {tag} in the BentoML store ({reason})")
        remove(tag)
    metrics = json.loads(METRICS_FILE.read_text(encoding="utf-8"))
    with bentoml.models.create(tag, labels=labels, metadata=metrics) as stored:
        shutil.copy(MODEL_FILE, stored.path_of(MODEL_FILE.name))
        shutil.copy(CONTRACT_FILE, stored.path_of(CONTRACT_FILE.name))
    return stored


def remove(tag: str) -> None:
    """Delete the bento and the model `tag` from the BentoML store, where present."""
    for delete in (bentoml.bentos.delete, bentoml.models.delete):
        with contextlib.suppress(bentoml.exceptions.NotFound):
            delete(tag)


def exported_lock(lock: Path = LOCK_FILE) -> str:
    """The runtime part of `lock` as requirement lines (`name==version ; marker`), written by
    `uv export`: uv.lock's format is uv's own, and one package can be locked at several versions
    (one per Python or platform), which uv resolves to marker-qualified lines. `--frozen` exports
    the lock as it is, as `make setup` installed it (whether it is current is `make setup`'s
    check, `--locked`), with no network; dev tools and the project itself are left out."""
    if not lock.is_file():
        raise RegistryError(f"{lock} is missing: `make lock`")
    command = ["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-header"]
    command += ["--no-annotate", "--no-emit-project", "--project", str(lock.parent)]
    command += ["--no-emit-package", "actions-mlops"]  # the bento carries its serving modules
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RegistryError("uv is not installed: https://docs.astral.sh/uv/") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise RegistryError(f"{lock}: `uv export` failed: {reason}")
    return result.stdout


def locked_versions(lock: Path = LOCK_FILE) -> dict[str, str]:
    """Name -> version of each pin in the lock that applies to this Python and platform."""
    pins: dict[str, str] = {}
    for line in exported_lock(lock).splitlines():
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        pin = Requirement(text)
        if pin.marker is None or pin.marker.evaluate():
            pins[canonicalize_name(pin.name)] = str(pin.specifier).removeprefix("==")
    return pins


def build_options(
    bentofile: Path = BENTOFILE, lock: Path = LOCK_FILE, package: str | None = None
) -> dict[str, Any]:
    """bentofile.yaml with its Python packages expanded to everything they require, each pinned
    to the lock's version (the image installs exactly the serving part of the lock), and the
    project's own `package` included."""
    options = read_yaml(bentofile)
    problems = bentofile_problems(options, str(bentofile))
    if problems:
        raise ConfigError(problems)
    python = options["python"]
    pins = locked_versions(lock)
    try:
        needed = sorted(required_closure(python["packages"]))
    except PackageNotFoundError as error:
        missing = f"{bentofile}: python.packages: {error.name} is not installed"
        raise RegistryError(f"{missing}: `make setup`") from None
    unpinned = [name for name in needed if name not in pins]
    if unpinned:
        missing = ", ".join(unpinned)
        raise RegistryError(f"{lock}: no pin for {missing}, which serving needs: `make lock`")
    python["packages"] = [f"{name}=={pins[name]}" for name in needed]
    if package is not None:  # src/<package>/ and the modules it imports of actions_mlops
        options["include"] = [*options.get("include", []), *project_includes()]
    docker = options.setdefault("docker", {})
    docker.setdefault("base_image", f"python:{project_python()}-slim")
    return options


def project_python() -> str:
    """The project's Python version (.python-version, as uv and the workflows read it)."""
    try:
        version = PYTHON_VERSION_FILE.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise RegistryError(f"{PYTHON_VERSION_FILE} is missing: it names the Python") from None
    if not re.fullmatch(r"3\.\d+", version):
        raise RegistryError(f"{PYTHON_VERSION_FILE}: {version!r} is not a Python like 3.11")
    return version


def build_bento(params: Params, stored: bentoml.Model) -> bentoml.Bento:
    """The bento `<model>:<version>` serving exactly `stored`, labelled with its identity."""
    tag = str(stored.tag)
    keys = ("version", "repository", "model_sha256", "contract_sha256")
    expected = {key: stored.info.labels[key] for key in keys}
    try:
        bento = bentoml.bentos.get(tag)
    except bentoml.exceptions.NotFound:
        pass
    else:
        reason = mismatch("bento", tag, dict(bento.info.labels), expected)
        if reason is None:
            return bento
        print(f"package: rebuilding bento {tag} ({reason})")
        bentoml.bentos.delete(tag)
    package = own_package()
    options = build_options(package=package)
    # Both read the project's folder: before the chdir below.
    source = (SOURCE_DIR / package).resolve() if package else None
    args = serving_args(params, tag)
    options["labels"] = {**options.get("labels", {}), **expected}
    # BentoML reads the Dockerfile template relative to, and only inside, the working folder.
    with (
        tempfile.TemporaryDirectory(prefix="bento-context-") as context,
        contextlib.chdir(context),
        quiet_template_notice(),
    ):
        return bentoml.bentos.build(
            **options,
            name=stored.tag.name,
            version=stored.tag.version,
            build_ctx=str(build_context(Path(context), source)),
            args=args,
        )


class TemplateNotice(logging.Filter):
    """Drops BentoML's "docker.dockerfile_template is not supported by bento v2, fallback to
    bento v1", printed on every build: the template is this package's choice (bentofile.yaml)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("docker.dockerfile_template is not supported")


@contextlib.contextmanager
def quiet_template_notice() -> Iterator[None]:
    """TemplateNotice on BentoML's build logger while a bento is built."""
    logger, notice = logging.getLogger("bentoml.build"), TemplateNotice()
    logger.addFilter(notice)
    try:
        yield
    finally:
        logger.removeFilter(notice)


def build_context(folder: Path, package: Path | None = None) -> Path:
    """`folder` made the bento's build context: the installed actions_mlops package, the
    project's own `package` folder (src/<package>/, none of its other files) and the Dockerfile
    template bentofile.yaml names."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PACKAGE_DIR, folder / PACKAGE_DIR.name, ignore=ignore)
    if package is not None:
        shutil.copytree(package, folder / package.name, ignore=ignore)
    shutil.copy(DOCKERFILE_TEMPLATE, folder / DOCKERFILE_TEMPLATE.name)
    return folder


def package() -> bentoml.Bento:
    """Save the registered model to the BentoML store and build its bento."""
    params = load_params()
    version, commit = registered_head(params.registry.model)
    preprocessing = check_fast_path()
    hooks = Hooks.load(params.serve, own_package())  # ConfigError before anything is stored
    stored = save_model(params, version, commit)
    bento = build_bento(params, stored)
    print(f"package: model {stored.tag}, bento {bento.tag} ({bento.path})")
    print(f"package: preprocessing: {preprocessing}")
    print(f"package: hooks: {hooks.describe()}")
    return bento


def main() -> int:
    """CLI entry: package HEAD's registered version; exit 1 with the reason when it cannot."""
    try:
        package()
    except RegistryError as error:
        print(f"package: refused: {error}")
        return 1
    return 0
