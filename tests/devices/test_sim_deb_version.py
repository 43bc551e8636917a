"""deploy.sim pins the wheelhouse to the suite's numpy: the upstream version read from Debian's .deb name."""

from __future__ import annotations

import pytest

from deploy import sim
from deploy.errors import DeployError


@pytest.mark.parametrize("name,expected", [
    ("python3-numpy_1%3a1.24.2-1+deb12u1_arm64.deb", "1.24.2"),  # bookworm
    ("python3-numpy_1%3a2.2.4+ds-1_arm64.deb", "2.2.4"),  # trixie: +ds repack suffix
    ("/var/cache/apt/archives/python3-numpy_1%3a2.2.4+ds-1_arm64.deb", "2.2.4"),  # a path
    ("1:2.2.4+ds-1", "2.2.4"),  # dpkg-query's ${Version}
    ("4.10.0+dfsg-5", "4.10.0"),  # trixie's python3-opencv
    ("4.6.0+dfsg-12", "4.6.0"),  # bookworm's
    ("python3-foo_2.0.0~rc1-1_all.deb", "2.0.0"),
    ("python3-foo_3.1_all.deb", "3.1"),  # native package: no Debian revision
])
def test_upstream_version(name, expected):
    assert sim.deb_upstream_version(name) == expected


@pytest.mark.parametrize("name", ["python3-numpy_arm64.deb", "python3-numpy_latest_arm64.deb",
                                  "python3-numpy_x%3a2.2.4-1_arm64.deb", "python3-numpy_1%3a2.2.4a-1_arm64.deb"])
def test_bad_names_are_refused_by_name(name):
    with pytest.raises(DeployError) as info:
        sim.deb_upstream_version(name)
    assert name in str(info.value)


def test_rsync_is_in_the_root_from_the_start():
    # a flash copies the release with rsync before its apt step runs; trixie's minbase has no rsync
    assert "rsync" in sim.BASE_PACKAGES
