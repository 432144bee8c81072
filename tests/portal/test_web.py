"""The blueprints are made once and shared by every app of the process: does each app keep its own objects?

``autograder.portal.web`` reads the course, store, clock and the upload gate of the app handling the request; a
blueprint module that kept one of them (a module global) would make one app's state another's."""
from __future__ import annotations

from datetime import UTC, timedelta

from test_portal import AID, Clock, _client, _upload, portal  # noqa: F401 -- portal is the fixture

from autograder.portal import web
from autograder.portal.app import create_app
from autograder.portal.store import Store


def test_two_portals_in_one_process_keep_their_own_objects(portal):
    """Two apps in one process on one course: does each request reach its own app's store and clock, and is an
    upload being taken in one app (its upload gate held) no reason to refuse one in the other, while the same app
    refuses it?"""
    store = Store(portal["store"].engine.url.render_as_string(hide_password=False))
    later = Clock(portal["clock"].moment + timedelta(minutes=5))
    other = create_app(portal["course"], store=store, now=later, start_queue=False)
    for app, own_store, own_clock in ((portal["app"], portal["store"], portal["clock"]), (other, store, later)):
        with app.test_request_context("/"):
            assert web.store._get_current_object() is own_store and web.clock() == own_clock()
            assert web.upload_gate._get_current_object() is app.extensions[web.EXTENSION]["upload_gate"]
    first, second = portal["app"].extensions[web.EXTENSION], other.extensions[web.EXTENSION]
    assert first["upload_gate"] is not second["upload_gate"] and first["throttle"] is not second["throttle"]
    assert first["regrade_answering"] is not second["regrade_answering"]

    data = portal["course"].release_notebook(AID).read_bytes()
    with first["upload_gate"].turn("s001", AID) as mine:  # an upload of s001's being taken by the first app
        assert mine
        refused = _upload(_client(portal, "s001"), f"{AID}.ipynb", data).get_data(as_text=True)
        taken = _upload(_client({**portal, "app": other}, "s001"), f"{AID}.ipynb", data).get_data(as_text=True)
    assert "別の提出をいま受け付けているところです" in refused and "受け付けました" not in refused
    assert "受け付けました" in taken and "別の提出" not in taken  # stored at the second app's time:
    assert [u["received_utc"] for u in store.uploads_of("s001", AID)] == [later().astimezone(UTC).replace(tzinfo=None)]
