"""Fixtures: an azure-mock process over TLS, and official Azure SDK clients pointed at it."""

import json
import os
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

SUB = "00000000-0000-0000-0000-0000000000bb"
RG = "rg-python"
SCOPES = ["https://management.azure.com/.default"]


class Mock:
    """A running azure-mock binary and clients for it."""

    def __init__(self, *extra_args):
        binary = os.environ.get("AZURE_MOCK_BIN") or str(
            Path(__file__).resolve().parents[4] / "target" / "debug" / "azure-mock"
        )
        self.dir = tempfile.TemporaryDirectory(prefix="azure-mock-py-")
        self.ca = os.path.join(self.dir.name, "ca.pem")
        self.proc = subprocess.Popen(
            [binary, "--tls-self-signed", self.ca, *extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line.startswith("READY url="), f"azure-mock did not start: {line!r}"
        self.url = line.strip().split("=", 1)[1]
        # requests (under azure-core and MSAL) trusts the mock's CA through this variable.
        os.environ["REQUESTS_CA_BUNDLE"] = self.ca
        self.credential = ClientSecretCredential(
            "tenant-py", "client-py", "secret-py", authority=self.url, disable_instance_discovery=True
        )
        self.network = NetworkManagementClient(
            self.credential, SUB, base_url=self.url, credential_scopes=SCOPES, polling_interval=0
        )
        self.resources = ResourceManagementClient(
            self.credential, SUB, base_url=self.url, credential_scopes=SCOPES
        )
        self.compute = ComputeManagementClient(
            self.credential, SUB, base_url=self.url, credential_scopes=SCOPES
        )

    def admin(self, method, path, body=None):
        """Calls the admin API (trusting the mock's CA)."""
        import ssl

        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/_mock{path}", data=data, method=method)
        req.add_header("content-type", "application/json")
        ctx = ssl.create_default_context(cafile=self.ca)
        with urllib.request.urlopen(req, context=ctx) as resp:
            text = resp.read().decode()
            return json.loads(text) if text else None

    def id(self, kind, name):
        return f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/{kind}/{name}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.dir.cleanup()


def start(*args):
    mock = Mock(*args)
    mock.resources.resource_groups.create_or_update(RG, {"location": "westeurope"})
    return mock


@pytest.fixture
def mock():
    m = start()
    yield m
    m.stop()
