"""Set points (选定温、湿度, JGJ 25-2010 §5.2.3) and the store-kind templates: the standard's own
numbers, defaults in the middle of the band, refusals with the reason, the audited service and
the staff form's view."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from accounts.models import AuditLog
from repository.choices import CLIMATE_RANGES, RoomTemplate
from repository.models import StoreRoom
from storage_env.models import ClimatePolicy, effective_policy
from storage_env.policies import update_climate_policy

pytestmark = pytest.mark.django_db

URLS = "tests.storage_env.urls_compliance"


def test_jgj_25_tables_give_the_ranges_and_the_daily_fluctuation():
    # Table 5.2.1 (paper) and 5.2.2 (special stores), exactly as the standard lists them.
    expected = {
        RoomTemplate.PAPER: (14, 24, 45, 60),
        RoomTemplate.SPECIAL: (14, 20, 45, 55),
        RoomTemplate.TAPE: (14, 24, 40, 60),
        RoomTemplate.FILM_COPY: (14, 24, 40, 60),
        RoomTemplate.FILM_MASTER: (13, 15, 35, 45),
    }
    for template, band in expected.items():
        r = CLIMATE_RANGES[template]
        assert (r.temp_min, r.temp_max, r.rh_min, r.rh_max) == band
        assert r.basis.startswith("JGJ 25-2010")
    for template in RoomTemplate.values:  # §5.2.3 for every store: ±2 °C, ±5 %RH
        r = CLIMATE_RANGES[template]
        assert (r.temp_swing, r.rh_swing) == (2.0, 5.0)
        assert r.temp_min < r.temp_max and r.rh_min < r.rh_max
        assert r.basis


def test_other_carriers_have_their_own_standards_ranges_and_chinese_names():
    photo = CLIMATE_RANGES[RoomTemplate.PHOTO]
    assert (photo.temp_max, photo.rh_min, photo.rh_max) == (18, 30, 50)  # GB/T 11821-2002
    optical = CLIMATE_RANGES[RoomTemplate.OPTICAL]
    assert (optical.temp_min, optical.temp_max, optical.rh_min, optical.rh_max) == (17, 20, 35, 45)
    with translation.override("zh-hans"):
        names = {str(label) for label in RoomTemplate.labels}
    for name in ("照片档案库", "底片库", "缩微品库", "磁性载体档案库", "光盘库", "纸质档案库"):
        assert name in names


def test_set_points_default_to_the_middle_of_the_effective_band():
    room = StoreRoom.objects.create(code="K1", name="一号库", template=RoomTemplate.PAPER)
    policy = effective_policy(room)
    assert (policy.temp_set, policy.rh_set) == (19.0, 52.5)
    assert (policy.temp_swing, policy.rh_swing) == (2.0, 5.0)
    assert policy.temperature_set_band() == (17.0, 21.0)
    narrowed = ClimatePolicy.objects.create(room=room, temp_max=20)
    assert narrowed.effective().temp_set == 17.0  # 14–20 now
    narrowed.temp_set, narrowed.rh_set = 18.5, 50
    assert (narrowed.effective().temp_set, narrowed.effective().rh_set) == (18.5, 50)
    master = StoreRoom.objects.create(code="K6", name="母片库", template=RoomTemplate.FILM_MASTER)
    assert (effective_policy(master).temp_set, effective_policy(master).rh_set) == (14.0, 40.0)


def test_model_clean_refuses_a_set_point_outside_the_band_with_the_reason():
    room = StoreRoom.objects.create(code="K1", name="一号库", template=RoomTemplate.PAPER)
    policy = ClimatePolicy(room=room, temp_set=25, rh_set=40)
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        policy.full_clean()
    errors = refused.value.message_dict
    assert "outside the band 14–24 °C" in errors["temp_set"][0]
    assert "outside the band 45–60 %RH" in errors["rh_set"][0]
    ClimatePolicy(room=room, temp_set=24, rh_set=45).full_clean()  # the ends are in the band
    with pytest.raises(ValidationError) as empty:
        ClimatePolicy(room=room, temp_min=22, temp_max=18).full_clean()
    assert "temp_max" in empty.value.message_dict


def test_service_saves_and_audits_before_and_after(room, keeper):
    policy = update_climate_policy(
        room, acting_user=keeper, changes={"temp_set": "20.5", "rh_set": 50}
    )
    assert (policy.temp_set, policy.rh_set) == (20.5, 50.0)
    assert policy.effective().temp_set == 20.5
    row = AuditLog.objects.get(action="storage_env.policy.updated")
    assert row.before == {"temp_set": None, "rh_set": None}
    assert row.after == {"temp_set": 20.5, "rh_set": 50.0}
    assert row.actor == keeper
    # Nothing changes, nothing is written.
    update_climate_policy(room, acting_user=keeper, changes={"temp_set": 20.5})
    assert AuditLog.objects.filter(action="storage_env.policy.updated").count() == 1
    # Empty clears back to the middle of the band.
    policy = update_climate_policy(room, acting_user=keeper, changes={"temp_set": ""})
    assert policy.temp_set is None and policy.effective().temp_set == 19.0


def test_service_refuses_out_of_band_set_points_and_bands_that_strand_them(room, keeper):
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        update_climate_policy(room, acting_user=keeper, changes={"temp_set": 26})
    assert "outside the band 14–24 °C" in refused.value.message_dict["temp_set"][0]
    assert ClimatePolicy.objects.get(room=room).temp_set is None
    update_climate_policy(room, acting_user=keeper, changes={"temp_set": 21})
    with pytest.raises(ValidationError) as stranded:
        update_climate_policy(room, acting_user=keeper, changes={"temp_max": 20})
    assert "temp_set" in stranded.value.message_dict
    assert ClimatePolicy.objects.get(room=room).temp_max is None
    for bad in ({"temp_set": "warm"}, {"temp_set": "nan"}, {"rh_set": 120}, {"sustain": 1}):
        with pytest.raises(ValidationError):
            update_climate_policy(room, acting_user=keeper, changes=bad)
    assert AuditLog.objects.filter(action="storage_env.policy.updated").count() == 1


def test_only_climate_keepers_may_change_set_points(room, researcher, front_desk):
    for user in (researcher, front_desk):
        with pytest.raises(PermissionDenied):
            update_climate_policy(room, acting_user=user, changes={"temp_set": 20})
    assert not ClimatePolicy.objects.filter(room=room, temp_set=20).exists()


@pytest.mark.urls(URLS)
def test_set_points_view_saves_or_says_why_not(room, keeper, researcher, client_for):
    client = client_for(keeper)
    url = f"/staff/climate/rooms/{room.pk}/set-points/"
    response = client.post(url, {"temp_set": "20", "rh_set": "50"})
    assert response.status_code == 302 and response.url.endswith(f"/rooms/{room.pk}/")
    assert ClimatePolicy.objects.get(room=room).temp_set == 20
    response = client.post(url, {"temp_set": "30"}, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any("outside the band 14–24 °C" in m for m in shown), shown
    assert ClimatePolicy.objects.get(room=room).temp_set == 20
    assert client.get(url).status_code == 405
    assert client_for(researcher).post(url, {"temp_set": "21"}).status_code == 404
    assert ClimatePolicy.objects.get(room=room).temp_set == 20


@pytest.mark.urls(URLS)
def test_set_points_form_include_renders_the_band(room, keeper):
    from django.template.loader import render_to_string

    html = render_to_string(
        "storage_env/_set_points_form.html", {"room": room, "policy": effective_policy(room)}
    )
    assert f"/staff/climate/rooms/{room.pk}/set-points/" in html
    assert 'name="temp_set"' in html and 'value="19"' in html and 'max="24"' in html
    assert 'name="rh_set"' in html and 'value="52.5"' in html


def test_demo_keeps_each_carrier_in_its_store_with_set_points_and_full_history():
    import datetime as dt
    import io

    from django.utils import timezone

    from accounts import demo as accounts_demo
    from devices import demo as devices_demo
    from repository import demo as repository_demo
    from repository.models import Item, Volume
    from storage_env import demo
    from storage_env.compliance import daily_compliance

    out = io.StringIO()
    accounts_demo.seed(records=0, out=out)
    repository_demo.seed(records=300, out=out)
    devices_demo.seed(records=300, out=out)
    demo.seed(records=300, out=out)
    demo.seed(records=300, out=out)  # idempotent: the set points are not chosen twice
    expected = {
        "paper": {RoomTemplate.PAPER},
        "photo": {RoomTemplate.PHOTO},
        "electronic": {RoomTemplate.OPTICAL},
        "audio": {RoomTemplate.TAPE},
        "video": {RoomTemplate.TAPE},
        "object": {RoomTemplate.SPECIAL},
    }
    for model in (Volume, Item):
        pairs = set(model.objects.values_list("carrier", "position__room__template"))
        for carrier, template in pairs:
            assert template in expected[carrier], (model.__name__, carrier, template)
    assert Item.objects.filter(carrier="photo").exists()
    rooms = list(StoreRoom.objects.all())
    assert {RoomTemplate.PHOTO, RoomTemplate.OPTICAL} <= {r.template for r in rooms}
    for room in rooms:
        policy = ClimatePolicy.objects.get(room=room)
        assert policy.temp_set is not None and policy.rh_set is not None, room
        effective = policy.effective()
        assert effective.temp_min <= policy.temp_set <= effective.temp_max
        assert effective.rh_min <= policy.rh_set <= effective.rh_max
    assert AuditLog.objects.filter(action="storage_env.policy.updated").count() == len(rooms)
    # Two days ago (hourly history) and yesterday (raw readings and 5-minute rollups): the
    # demo's data is as complete as its sensors' reporting interval says.
    room = StoreRoom.objects.get(code="K07")
    today = timezone.localdate()
    days = daily_compliance(room, today - dt.timedelta(days=3), today - dt.timedelta(days=1))
    assert [d.completeness for d in days] == [100.0, 100.0, 100.0]
