"""The default world: a healthy platform with two serving endpoints, their pipelines, the registry
behind them and the five agents of the fine-tuned fleet. Faults (``sandbox/faults.py``) start
from it."""

from __future__ import annotations

from sandbox.world import (
    Agent,
    Endpoint,
    EndpointConfig,
    Event,
    Field_,
    LogLine,
    ModelBehaviour,
    ModelVersion,
    Pipeline,
    Provider,
    RegisteredModel,
    ServedEntity,
    World,
)

SENTIMENT_MODEL = "main.ml.sentiment_classifier"
SENTIMENT_ENDPOINT = "sentiment-endpoint"
CHURN_MODEL = "main.ml.churn_model"
CHURN_ENDPOINT = "churn-scorer"
AGENTS = ("qa_agent", "support_agent", "legal_agent", "analyst_agent", "content_agent")
BASELINE_MODEL = "open-mistral-7b"
DAY = 24 * 60.0


def finetuned_model_id(agent: str) -> str:
    """The fine-tuned model id of an agent, e.g. ``ft:open-mistral-7b:qa:20251015``."""
    return f"ft:{BASELINE_MODEL}:{agent.removesuffix('_agent')}:20251015"


def _sentiment_versions() -> list[ModelVersion]:
    outputs = [Field_(name="label", type="string"), Field_(name="score", type="string")]
    history = [
        ("1", 120 * DAY, 0.84, "first production model"),
        ("2", 75 * DAY, 0.87, "retrained on Q2 reviews"),
        ("3", 40 * DAY, 0.90, "distilled encoder, faster"),
        ("4", 10 * DAY, 0.92, "retrained on Q3 reviews with multilingual data"),
    ]
    return [
        ModelVersion(
            version=version,
            created_minutes_ago=age,
            description=description,
            inputs=[Field_(name="text", type="string")],
            outputs=outputs,
            tags={"accuracy": f"{accuracy:.2f}", "validation_status": "approved"},
            behaviour=ModelBehaviour(accuracy=accuracy, latency_ms=80.0),
        )
        for version, age, accuracy, description in history
    ]


def _churn_versions() -> list[ModelVersion]:
    inputs = [Field_(name="customer_id"), Field_(name="tenure_months", type="long")]
    outputs = [Field_(name="churn_probability", type="double")]
    return [
        ModelVersion(
            version=version,
            created_minutes_ago=age,
            inputs=inputs,
            outputs=outputs,
            tags={"accuracy": f"{accuracy:.2f}", "validation_status": "approved"},
            behaviour=ModelBehaviour(accuracy=accuracy, latency_ms=40.0),
        )
        for version, age, accuracy in [("1", 90 * DAY, 0.81), ("2", 20 * DAY, 0.84)]
    ]


SENTIMENT_SQL = """CREATE OR REFRESH MATERIALIZED VIEW main.reviews.review_sentiment AS
SELECT
  review_id,
  review_text,
  ai_query(
    'sentiment-endpoint',
    named_struct('text', review_text),
    returnType => 'STRUCT<label: STRING, score: STRING>',
    failOnError => false
  ) AS sentiment_result
FROM main.reviews.raw_reviews
"""

CHURN_SQL = """CREATE OR REFRESH MATERIALIZED VIEW main.crm.churn_scores AS
SELECT
  customer_id,
  ai_query(
    'churn-scorer',
    named_struct('customer_id', customer_id, 'tenure_months', tenure_months),
    returnType => 'STRUCT<churn_probability: DOUBLE>'
  ) AS churn
FROM main.crm.customers
"""


def default_world() -> World:
    """A healthy platform: every SLI of every endpoint and agent is within its SLO."""
    sentiment = RegisteredModel(
        name=SENTIMENT_MODEL,
        description="Classifies product reviews as positive or negative.",
        tags={"owner": "ml-reviews", "task": "sentiment"},
        versions=_sentiment_versions(),
        aliases={"champion": "4"},
    )
    churn = RegisteredModel(
        name=CHURN_MODEL,
        description="Probability that a customer cancels within 90 days.",
        tags={"owner": "ml-crm", "task": "churn"},
        versions=_churn_versions(),
        aliases={"champion": "2"},
    )
    endpoints = [
        Endpoint(
            name=SENTIMENT_ENDPOINT,
            id="ep-5e471a9c",
            config=EndpointConfig(
                served_entities=[
                    ServedEntity(
                        entity_name=SENTIMENT_MODEL, entity_version="4", workload_size="Medium"
                    )
                ]
            ),
            tags={"team": "ml-reviews", "env": "prod"},
            updated_minutes_ago=10 * DAY,
            request_rate_per_min=60.0,
            expected_version="4",
            cost_budget_per_hour_usd=5.0,
        ),
        Endpoint(
            name=CHURN_ENDPOINT,
            id="ep-c4a17e2b",
            config=EndpointConfig(
                served_entities=[
                    ServedEntity(entity_name=CHURN_MODEL, entity_version="2", workload_size="Small")
                ]
            ),
            tags={"team": "ml-crm", "env": "prod"},
            updated_minutes_ago=20 * DAY,
            request_rate_per_min=30.0,
            expected_version="2",
            cost_budget_per_hour_usd=2.0,
        ),
    ]
    pipelines = [
        Pipeline(
            id="pl-review-sentiment", name="review_sentiment", sql=SENTIMENT_SQL, concurrency=2
        ),
        Pipeline(id="pl-churn-daily", name="churn_daily", sql=CHURN_SQL, concurrency=1),
    ]
    agents = [Agent(name=name, finetuned_model=finetuned_model_id(name)) for name in AGENTS]
    provider = Provider(
        available_models=[
            BASELINE_MODEL,
            "mistral-small-latest",
            "mistral-large-latest",
            *(finetuned_model_id(name) for name in AGENTS),
        ]
    )
    events = [
        Event(minutes_ago=30 * DAY, type="endpoint_created", resource=SENTIMENT_ENDPOINT),
        Event(minutes_ago=60 * DAY, type="endpoint_created", resource=CHURN_ENDPOINT),
        Event(
            minutes_ago=40 * DAY,
            type="alias_set",
            resource=SENTIMENT_MODEL,
            actor="ml-pipeline",
            details={"alias": "champion", "version": "3", "previous_version": "2"},
        ),
        Event(
            minutes_ago=10 * DAY,
            type="model_version_created",
            resource=SENTIMENT_MODEL,
            actor="ml-pipeline",
            details={"version": "4"},
        ),
        Event(
            minutes_ago=10 * DAY,
            type="alias_set",
            resource=SENTIMENT_MODEL,
            actor="ml-pipeline",
            details={"alias": "champion", "version": "4", "previous_version": "3"},
        ),
        Event(
            minutes_ago=10 * DAY,
            type="endpoint_updated",
            resource=SENTIMENT_ENDPOINT,
            actor="ml-pipeline",
            details={"served_versions": "4"},
        ),
        Event(
            minutes_ago=20 * DAY,
            type="alias_set",
            resource=CHURN_MODEL,
            actor="ml-pipeline",
            details={"alias": "champion", "version": "2", "previous_version": "1"},
        ),
    ]
    logs = [
        LogLine(
            minutes_ago=55, level="INFO", source="gateway", message="gateway started, 5 agents"
        ),
        LogLine(minutes_ago=30, level="INFO", source="qa_agent", message="answered 118 requests"),
        LogLine(
            minutes_ago=12, level="INFO", source=SENTIMENT_ENDPOINT, message="scaled to 1 replica"
        ),
        LogLine(minutes_ago=5, level="INFO", source="support_agent", message="health check ok"),
    ]
    return World(
        endpoints=endpoints,
        models=[sentiment, churn],
        pipelines=pipelines,
        agents=agents,
        provider=provider,
        events=events,
        logs=logs,
    )
