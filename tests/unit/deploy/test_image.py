"""deploy/Dockerfile: no engine here to build it, so its shape is checked, and the runtime
dependencies it installs (pyproject's, without the test ones) are checked to be enough."""

import re
import tomllib

from tests.unit.deploy.code_facts import ROOT

DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]


def test_the_image_is_multi_stage_slim_and_runs_as_a_numeric_non_root_user():
    assert len(stages()) >= 2
    final = stages()[-1]
    assert final.startswith("python:3.11-slim")
    assert "COPY --from=build /venv /venv" in final
    assert not re.search(r"pip install|apt-get|gcc|build-essential", final), "no building in the final stage"
    (user,) = re.findall(r"^USER (\S+)", final, flags=re.M)
    assert user.split(":")[0].isdigit() and user.split(":")[0] != "0"
    assert "PYTHONDONTWRITEBYTECODE=1" in final and "compileall" in final, "ready for a read-only root filesystem"


def test_the_image_installs_the_runtime_dependencies_pinned_by_the_lock():
    build = stages()[0]
    assert "-c requirements.lock" in build and "['project']['dependencies']" in build
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = (ROOT / "requirements.lock").read_text()
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=\[ ]", requirement, maxsplit=1)[0].lower()
        assert re.search(rf"^{re.escape(name)}==", lock, flags=re.M | re.I), f"{name} is not pinned in requirements.lock"
