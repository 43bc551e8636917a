"""Board detection on fake filesystem trees, and profile validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.board import BoardError, detect_board, known_boards, load_profile, profile_by_name

BOARDS = ["coral-devboard", "jetson-nano", "jetson-orin-nano", "rpi4", "rpi5", "x86-64"]


def fake_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"proc/device-tree/model": b"Raspberry Pi 5 Model B Rev 1.0\x00"}, "rpi5"),
        ({"proc/device-tree/model": b"Raspberry Pi 4 Model B Rev 1.4\x00"}, "rpi4"),
        ({"proc/device-tree/model": b"Raspberry Pi Compute Module 4 Rev 1.1\x00"}, "rpi4"),
        ({"proc/device-tree/model": b"NVIDIA Jetson Orin Nano Developer Kit\x00",
          "etc/nv_tegra_release": "# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic"}, "jetson-orin-nano"),
        ({"proc/device-tree/model": b"NVIDIA Jetson Nano Developer Kit\x00"}, "jetson-nano"),
        # no device-tree model we know: the L4T release decides
        ({"etc/nv_tegra_release": "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref"}, "jetson-nano"),
        ({"proc/device-tree/model": b"Freescale i.MX8MQ Phanbell\x00"}, "coral-devboard"),
        # an old Pi kernel without a device tree node, but a Model line in cpuinfo
        ({"proc/cpuinfo": "processor\t: 0\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.2\n"}, "rpi4"),
        ({"proc/cpuinfo": "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\n"}, "x86-64"),
        ({"proc/cpuinfo": "processor\t: 0\nvendor_id\t: AuthenticAMD\n"}, "x86-64"),
    ],
)
def test_detect_board_on_fake_trees(tmp_path, files, expected):
    assert detect_board(fake_tree(tmp_path, files)) == expected


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"proc/device-tree/model": b"Pine64 RockPro64 v2.1\x00", "proc/cpuinfo": "processor\t: 0\n"},
        {"etc/nv_tegra_release": "# R28 (release), REVISION: 2.1"},
    ],
)
def test_unknown_board_names_what_was_read_and_the_way_out(tmp_path, files):
    with pytest.raises(BoardError) as err:
        detect_board(fake_tree(tmp_path, files))
    message = str(err.value)
    assert "cannot tell which board" in message and "--board" in message
    assert "device-tree/model" in message and "rpi5" in message
    if "proc/device-tree/model" in files:
        assert "Pine64" in message


def test_every_board_has_a_valid_profile(repo):
    assert known_boards(repo / "devices") == BOARDS
    for name in BOARDS:
        profile = profile_by_name(name, repo / "devices")
        assert profile.name == name
        assert (repo / "devices" / profile.service).is_file()
        assert (repo / "devices" / profile.user_service).is_file()
        assert profile.references, f"{name} has no reference latencies"
        for ref in profile.references.values():
            assert ref.source in ("published", "estimate", "measured")
            assert ref.note, f"{name}: reference {ref.key} does not say where its number comes from"


def _profile_text(repo: Path) -> str:
    return (repo / "devices" / "rpi5.toml").read_text()


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda t: t.replace('threads = 4\n', 'threads = 4\nthreds = 2\n', 1), ["unknown key 'threds'"]),
        (lambda t: t.replace('source = "estimate"', 'source = "estimate"\nlatency = 3', 1),
         ["unknown key 'references.coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.latency'"]),
        (lambda t: t.replace('runtime = "ai-edge-litert"', 'runtime = "tensorflow"'), ["'runtime'", "tensorflow"]),
        (lambda t: t.replace('input_size = [320, 320]', 'input_size = [320]'), ["input_size"]),
        (lambda t: t.replace('threads = 4\n', 'threads = "4"\n', 1), ["'threads' must be int", "'4'"]),
        (lambda t: t.replace('camera = ', 'kamera = '), ["unknown key 'kamera'"]),
        (lambda t: t.replace('source = "estimate"', 'source = "guess"', 1), ["source", "guess"]),
        (lambda t: t + "\n[broken\n", ["not valid TOML"]),
        (lambda t: t.replace('numpy_opencv = "apt"', 'numpy_opencv = "conda"'), ["'numpy_opencv'", "conda"]),
        (lambda t: t.replace('headless_optional = ["python3-picamera2"]', 'headless_optional = ["python3-picamera"]'),
         ["'headless_optional'", "python3-picamera", "system_packages"]),
        (lambda t: t.replace('venv_system_site_packages = true', 'venv_system_site_packages = false'),
         ["numpy_opencv", "venv_system_site_packages"]),
    ],
)
def test_invalid_profile_names_key_and_file(tmp_path, repo, edit, words):
    path = tmp_path / "myboard.toml"
    path.write_text(edit(_profile_text(repo)))
    with pytest.raises(BoardError) as err:
        load_profile(path)
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_unknown_board_name(repo):
    from edge.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown board 'rpi9'.*rpi5"):
        profile_by_name("rpi9", repo / "devices")


def test_pip_extra_follows_runtime_and_numpy_source(repo):
    """Pi profiles take numpy/OpenCV from apt (the edge-apt extra has only the runtime); x86 keeps the wheels."""
    extras = {name: profile_by_name(name, repo / "devices").pip_extra for name in BOARDS}
    assert extras["rpi5"] == extras["rpi4"] == "edge-apt"
    assert extras["x86-64"] == "edge" and extras["jetson-nano"] in ("edge", "edge-legacy")
    for name in ("rpi4", "rpi5"):
        p = profile_by_name(name, repo / "devices")
        assert {"python3-numpy", "python3-opencv"} <= set(p.system_packages)
        assert p.headless_optional == ("python3-picamera2",)


def test_system_packages_step_on_this_debian(monkeypatch, capsys):
    """ensure_system_packages against this machine's own dpkg/apt: present ones pass, an unknown one fails by
    name, the same one marked headless_optional is skipped and reported."""
    import shutil

    from deploy import remote_install as ri

    if not shutil.which("dpkg-query") or not shutil.which("apt-cache"):
        pytest.skip("needs a Debian-family host (dpkg-query, apt-cache)")
    conn = ri.Connection(False)
    assert ri.ensure_system_packages({"system_packages": ["coreutils", "dpkg"]}, conn) == []
    ghost = "edgevision-no-such-package"
    with pytest.raises(ri.InstallError, match=f"{ghost}.*not offered"):
        ri.ensure_system_packages({"system_packages": ["coreutils", ghost]}, conn)
    skipped = ri.ensure_system_packages({"system_packages": [ghost], "headless_optional": [ghost]}, conn)
    assert skipped == [ghost]
    assert f"{ghost}: not offered" in capsys.readouterr().err
