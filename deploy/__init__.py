"""Host side of deployment: bundle a release, flash it over ssh, roll back, deploy a fleet, bench remotely.

Every external command is an argv list (no shell on this side); commands that run on a device go through
ssh as one string built with shlex.quote, so host names and paths are never interpreted by a shell.
"""
