"""The HTTP service: answers, 4xx for malformed requests, and it keeps serving after them (FastAPI TestClient)."""
import pytest
from fastapi.testclient import TestClient

from recbole_semsr.recommender import Recommender
from recbole_semsr.serve import create_app


@pytest.fixture(scope="module")
def served(recommend_checkpoints) -> tuple[TestClient, Recommender]:
    recommender = Recommender.load(recommend_checkpoints["NISER"])
    return TestClient(create_app(recommender, max_session_ids=50, max_batch_sessions=3)), recommender


def test_recommend_answers_the_apis_list(served):
    client, recommender = served
    answer = client.post("/recommend", json={"items": ["242", "171", "nope"], "k": 5})
    assert answer.status_code == 200
    assert answer.json() == recommender.recommend(["242", "171", "nope"], k=5).to_dict()
    batch = client.post("/recommend_batch", json={"sessions": [["242"], ["zzz"]], "k": 3}).json()["results"]
    assert [result["fallback"] for result in batch] == [None, "popularity"]
    assert client.get("/health").json()["n_items"] == recommender.n_items


@pytest.mark.parametrize("body, status, message", [
    ('{"items": ["242"', 422, "JSON decode error"),
    ('{"items": [242, 171]}', 422, "Input should be a valid string"),
    ('{"items": "242"}', 422, "Input should be a valid list"),
    ('{"items": ["242"], "k": 0}', 422, "k must be an integer from 1 to the number of items"),
    ('{"items": ["242"], "k": 100000}', 422, "k must be an integer from 1 to the number of items"),
    ('{"items": ["242"], "k": "5"}', 422, "Input should be a valid integer"),
    ('{"items": ["242"], "top": 5}', 422, "Extra inputs are not permitted"),
    ('{"items": [' + ", ".join(['"242"'] * 10_000) + "]}", 422, "List should have at most 50 items"),
])
def test_malformed_requests_get_4xx_with_a_message_and_the_service_keeps_serving(served, body, status, message):
    client, _ = served
    answer = client.post("/recommend", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status and message in answer.text
    assert client.post("/recommend", json={"items": ["242"], "k": 3}).status_code == 200


def test_batch_limits_are_enforced(served):
    client, _ = served
    too_many = client.post("/recommend_batch", json={"sessions": [["242"]] * 4})
    assert too_many.status_code == 422 and "List should have at most 3 items" in too_many.text
    too_long = client.post("/recommend_batch", json={"sessions": [["242"], ["171"] * 51]})
    assert too_long.status_code == 422 and "session 1 has 51 ids, at most 50" in too_long.text
