"""The suite's server runs on the store the run asked for: scripts/test-all
runs the whole suite on the embedded store, then again with
KEYWARD_E2E_STORE=postgresql on a node of a shared PostgreSQL store."""

import os


def test_the_suite_server_runs_on_the_store_asked_for(server, kms):
    kms.list_keys()
    data = os.path.join(server["workdir"], "data")
    if os.environ.get("KEYWARD_E2E_STORE") == "postgresql":
        assert server["store"][0] == "--store"
        assert open(os.path.join(data, "node-id")).read() == "e2e"
        assert not os.path.exists(os.path.join(data, "keyward.db"))
    else:
        assert os.path.exists(os.path.join(data, "keyward.db"))
        assert not os.path.exists(os.path.join(data, "node-id"))
