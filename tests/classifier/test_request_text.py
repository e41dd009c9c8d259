from proxy.classifier.request_text import view_of_request


def test_last_user_turn_and_context():
    view = view_of_request({"messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": [{"type": "text", "text": "second"},
                                     {"type": "image_url", "image_url": {"url": "x"}}]},
    ]})
    assert view.text == "second"
    assert view.system == "You are terse."
    assert "first question" in view.context
    assert view.turns == 2 and view.has_image


def test_tools_and_json_mode():
    view = view_of_request({
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "response_format": {"type": "json_object"},
    })
    assert view.tools == 1 and view.json_mode


def test_odd_shapes_do_not_raise():
    assert view_of_request({}).text == ""
    assert view_of_request({"messages": [None, {"role": "user", "content": None}]}).text == ""
