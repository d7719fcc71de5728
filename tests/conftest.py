"""Shared by every test folder: pytest puts this folder on `sys.path` (rootdir conftest), so the tests import the
tools' joint names from `tool_joints`."""
