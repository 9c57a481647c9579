"""The trainer plug-in registry and the dependency rules of docs/architecture.md.

The rules are checked on the source's import statements (every ``import`` and ``from`` anywhere in
a module, function-level ones included), so a lazy import cannot slip past them:

1. the core (everything outside ``lrguard/trainers/<name>/``) never imports a trainer package;
   it reaches trainers only through the registry (``lrguard.trainers``);
2. a trainer package never imports another trainer package;
3. nothing in ``src/`` imports torch or a trainer library, except the live guard's framework adapters
   (``lrguard/guard/*_adapter.py`` and ``lrguard/trainers/<name>/guard_adapter.py``), which are
   imported only when a guard is attached.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lrguard.trainers import REGISTRY, Trainer, all_profiles, all_trainers, get_profile, get_trainer
from lrguard.trainers.infer import FileEvidence, candidate_profiles

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "lrguard"
TRAINER_PACKAGES = {module.rsplit(".", 1)[1] for module in REGISTRY.values()}
THIRD_PARTY_TRAINERS = (
    "torch",
    "ultralytics",
    "yolov5",
    "transformers",
    "lightning",
    "pytorch_lightning",
    "accelerate",
    "timm",
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in ``path``; ``from a import b`` yields ``a`` and ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            out.append((node.lineno, base))
            out.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return out


def _owner(module: str) -> str | None:
    """The trainer package a module name belongs to, if any."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[:2] == ["lrguard", "trainers"] and parts[2] in TRAINER_PACKAGES:
        return parts[2]
    return None


SOURCES = sorted(PACKAGE.rglob("*.py"))


def _is_guard_adapter(path: Path) -> bool:
    """A live-guard adapter, the one place in src/ that may import torch (imported only when attached).

    ``lrguard/guard/*_adapter.py``, and a trainer package's ``guard_adapter.py`` (its trainer's guard).
    """
    if path.parent == PACKAGE / "guard" and path.stem.endswith("_adapter"):
        return True
    return path.parent.parent == PACKAGE / "trainers" and path.name == "guard_adapter.py"


def test_the_import_scan_sees_the_trainer_packages():
    """The rules below would pass vacuously if the scan found no trainer module."""
    owned = {_owner(_module_name(p)) for p in SOURCES} - {None}
    assert owned == TRAINER_PACKAGES
    plugin_imports = [m for _, m in _imports(PACKAGE / "trainers" / "yolov5" / "plugin.py")]
    assert "lrguard.trainers.yolov5.profiles" in plugin_imports  # `from pkg import module` is resolved
    assert _owner("lrguard.trainers.yolov5.profiles") == "yolov5" and _owner("lrguard.trainers.base") is None
    assert _is_guard_adapter(PACKAGE / "trainers" / "yolov5" / "guard_adapter.py")
    assert not _is_guard_adapter(PACKAGE / "trainers" / "yolov5" / "plugin.py")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_dependency_rules(path: Path):
    me = _owner(_module_name(path))
    for line, module in _imports(path):
        target = _owner(module)
        where = f"{path.relative_to(SRC)}:{line} imports {module}"
        if me is None:
            assert target is None, f"{where}: the core reaches trainers only through lrguard.trainers.get_trainer"
        else:
            assert target in (None, me), f"{where}: a trainer package never imports another one"
        if _is_guard_adapter(path):
            continue
        assert module.split(".")[0] not in THIRD_PARTY_TRAINERS, f"{where}: src/ never imports torch or a trainer"


def test_registry_lists_every_trainer_package_once():
    on_disk = {p.name for p in (PACKAGE / "trainers").iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert on_disk == TRAINER_PACKAGES
    assert len(set(REGISTRY.values())) == len(REGISTRY)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_trainer_is_complete(name: str):
    trainer = get_trainer(name)
    assert isinstance(trainer, Trainer)
    assert trainer.name == name and trainer.label and trainer.config_file
    own_reader = type(trainer).recognises is not Trainer.recognises
    assert bool(trainer.lr_prefix) != own_reader, "read through results.csv columns or a reader of its own"
    if own_reader:
        assert type(trainer).read_run is not Trainer.read_run
    assert trainer.profiles, "a trainer has at least its current profile"
    assert all(p.framework == name for p in trainer.profiles)
    assert trainer.default_profile is trainer.profiles[0]
    assert trainer.resume_command().startswith("`") and "x/last.pt" in trainer.resume_command("x/last.pt")
    assert get_trainer(name) is trainer  # imported once


def test_profiles_are_unique_and_found_by_name():
    names = [p.name for p in all_profiles()]
    assert len(names) == len(set(names))
    for p in all_profiles():
        assert get_profile(p.name) is p
    with pytest.raises(KeyError):
        get_profile("no-such-profile")
    with pytest.raises(KeyError):
        get_trainer("no-such-trainer")


def test_lr_prefixes_do_not_overlap():
    """Recognition by results.csv columns must pick one trainer."""
    prefixes = [t.lr_prefix for t in all_trainers() if t.lr_prefix]
    assert all(not a.startswith(b) for a in prefixes for b in prefixes if a is not b)


@pytest.mark.parametrize("name", [n for n in REGISTRY if get_trainer(n).lr_prefix])
def test_version_inference_dispatches_to_the_trainer(name: str):
    ev = FileEvidence(
        framework=name,
        n_groups=3,
        first_epoch=1 if name == "ultralytics" else 0,
        has_time=False,
        padded=False,
        bias_column=0,
    )
    got = candidate_profiles(ev)
    assert got.profiles and all(p.framework == name for p in got.profiles)
    assert got.evidence  # says why


# A whole trainer plug-in, as docs/adding-a-trainer.md describes it: a folder and a registry line.
_PLUGIN = """
from dataclasses import replace
from lrguard.readers.yamlfile import load_yaml_mapping
from lrguard.trainers.base import Trainer
from lrguard.trainers.profile import Profile

CURRENT = Profile(name="mytrainer", framework="mytrainer", label="mytrainer >= 2.0", epoch_base=0,
                  lr_prefix="lr/g", group_names=("bias", "weight", "norm"), bias_group=0, warmup_bias_group=0,
                  reference_group=1, log_lag=1, resume_row_restored=True, checkpoint_lr_lag=0, linear_clamp=False,
                  warmup_floor=100, significant_digits=5, fixed_nbs=64)
V1 = replace(CURRENT, name="mytrainer-1", label="mytrainer 1.x", warmup_floor=1000)  # PR #1: floor lowered


class MyTrainer(Trainer):
    name = "mytrainer"
    label = "MyTrainer"
    profiles = (CURRENT, V1)
    config_file = "config.yaml"
    lr_prefix = "lr/g"

    def read_config(self, run_dir, files, notes):
        files["config"] = run_dir / "config.yaml"
        return load_yaml_mapping(run_dir / "config.yaml"), None

    def hyp_from_config(self, config, extra, checkpoint_args):
        return dict(config)

    def resume_command(self, last=None):
        return f"`mytrainer fit --resume {last}`" if last else "`mytrainer fit --resume`"

    def epochs_changed_head(self, run_path, e_before):
        return f"put epochs: {e_before} back in config.yaml and {self.resume_command()}; "


TRAINER = MyTrainer()
"""


@pytest.fixture
def my_trainer(tmp_path, monkeypatch):
    """Register a trainer package written to a temporary folder (nothing else of lrguard changes)."""
    pkg = tmp_path / "plugins" / "mytrainer"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(_PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    monkeypatch.setitem(REGISTRY, "mytrainer", "mytrainer")  # the one registry line
    get_trainer.cache_clear()
    yield get_trainer("mytrainer")
    get_trainer.cache_clear()


def test_a_new_trainer_is_a_folder_plus_a_registry_line(my_trainer, tmp_path):
    """A run with the new trainer's LR columns and config file is read, version-inferred, diagnosed
    and explained in the new trainer's own words, without a change anywhere else."""
    import yaml

    from harness.generated import write_generated_run
    from lrguard.diagnosis import diagnose
    from lrguard.readers import read_run
    from lrguard.schedules import ScheduleSpec, SessionPlan

    run_dir = tmp_path / "exp"
    a = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)
    b = a.with_(epochs=500)
    write_generated_run(
        run_dir, get_profile("yolov5"), [SessionPlan(0, 120, a), SessionPlan(120, 150, b, resumed=True)]
    )
    csv = run_dir / "results.csv"
    csv.write_text(csv.read_text().replace("x/lr", "lr/g"))  # the new trainer's columns
    opt = yaml.safe_load((run_dir / "opt.yaml").read_text())
    (run_dir / "config.yaml").write_text(yaml.safe_dump({**opt["hyp"], "epochs": 500, "cos_lr": False}))
    for name in ("opt.yaml", "hyp.yaml"):
        (run_dir / name).unlink()

    run = read_run(run_dir, checkpoints=False)
    assert run.framework == "mytrainer" and run.files["config"].name == "config.yaml"
    assert run.profile_candidates == ["mytrainer"]
    d = diagnose(run)
    found = [f for f in d.findings if f.cause.value == "epochs-changed-on-resume"]
    assert len(found) == 1, [(f.cause.value, f.epoch) for f in d.findings]
    assert found[0].epoch == 121
    assert "put epochs: 300 back in config.yaml and `mytrainer fit --resume`" in found[0].fix
    assert get_profile("mytrainer-1").label == "mytrainer 1.x"  # --profile sees its versions
