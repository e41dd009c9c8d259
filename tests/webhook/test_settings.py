from proxy.webhook.settings import DEFAULT_NO_PROXY, InjectionSettings


def test_proxy_url_follows_the_proxy_port():
    assert InjectionSettings().proxy_url == "http://127.0.0.1:8080"
    assert InjectionSettings(proxy_port=15080).proxy_url == "http://127.0.0.1:15080"


def test_resources_are_modest_and_bounded():
    resources = InjectionSettings().resources.as_dict()
    assert resources == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "384Mi"},
    }


def test_cluster_internal_destinations_stay_direct_by_default():
    for entry in ("localhost", "127.0.0.1", ".svc", ".cluster.local", "10.0.0.0/8"):
        assert entry in DEFAULT_NO_PROXY
