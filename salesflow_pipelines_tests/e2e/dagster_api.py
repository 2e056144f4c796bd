"""What the end-to-end test asks the webserver, through its GraphQL API (what the UI itself uses)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagster_graphql import DagsterGraphQLClient

LOCATION = "salesflow_pipelines"
REPOSITORY = "__repository__"  # the repository a `Definitions` object becomes
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
IN_FLIGHT = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
UI_TAGS = {"dagster/from_ui": "true"}  # what the UI adds to whatever it launches

_SENSOR_FIELDS = """
  ... on Sensor {
    sensorState { id status ticks(limit: 10) { status timestamp endTimestamp runIds skipReason error { message } } }
  }
  ... on PythonError { message }
  ... on SensorNotFoundError { message }
"""


@dataclass(frozen=True)
class Tick:
    status: str
    timestamp: float
    end_timestamp: float | None
    run_ids: list[str]
    skip_reason: str | None
    error: str | None


class DagsterApi:
    def __init__(self, port: int) -> None:
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)

    def query(self, text: str, **variables: Any) -> dict:
        return self.client._execute(text, variables or None)

    # -- the code location and the daemon -----------------------------------------------------

    def location_loaded(self) -> bool:
        entries = self.query(
            "query { workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
            "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
        )["workspaceOrError"]["locationEntries"]
        for entry in entries:
            error = entry["locationOrLoadError"] or {}
            if entry["name"] == LOCATION and error.get("__typename") == "PythonError":
                if "DagsterUserCodeUnreachableError" in error["message"]:
                    return False  # the code server is still starting; the webserver retries
                raise AssertionError(f"the code location failed to load: {error['message']}")
        return any(e["name"] == LOCATION and e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)

    def unhealthy_daemons(self) -> list[str]:
        statuses = self.query(
            "query { instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
        )["instance"]["daemonHealth"]["allDaemonStatuses"]
        return [status["daemonType"] for status in statuses if status["required"] and not status["healthy"]]

    def set_nux_seen(self) -> None:
        """The UI's one-time "join the community" dialog: dismissed, as a first visitor would."""
        self.query("mutation { setNuxSeen }")

    # -- sensors --------------------------------------------------------------------------------

    def sensor_state(self, name: str) -> dict:
        answer = self.query(
            f"query($name: String!) {{ sensorOrError(sensorSelector: {{repositoryLocationName: "
            f'"{LOCATION}", repositoryName: "{REPOSITORY}", sensorName: $name}}) {{ __typename {_SENSOR_FIELDS} }} }}',
            name=name,
        )["sensorOrError"]
        if "sensorState" not in answer:
            raise AssertionError(f"sensor {name}: {answer}")
        return answer["sensorState"]

    def ticks(self, name: str) -> list[Tick]:
        return [
            Tick(
                status=tick["status"],
                timestamp=float(tick["timestamp"]),
                end_timestamp=float(tick["endTimestamp"]) if tick["endTimestamp"] else None,
                run_ids=tick["runIds"],
                skip_reason=tick["skipReason"],
                error=(tick["error"] or {}).get("message"),
            )
            for tick in self.sensor_state(name)["ticks"]
        ]

    def stop_sensor(self, name: str) -> None:
        state_id = self.sensor_state(name)["id"]
        answer = self.query(
            "mutation($id: String!) { stopSensor(id: $id) { __typename "
            "... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message } } }",
            id=state_id,
        )["stopSensor"]
        assert answer.get("instigationState", {}).get("status") == "STOPPED", answer

    def start_sensor(self, name: str) -> None:
        answer = self.query(
            "mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) { __typename "
            "... on Sensor { sensorState { status } } ... on PythonError { message } } }",
            selector={"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name},
        )["startSensor"]
        assert answer.get("sensorState", {}).get("status") == "RUNNING", answer

    # -- runs and materializations ---------------------------------------------------------------

    def launch(
        self,
        job_name: str,
        tags: dict[str, str],
        asset_selection: Sequence[Sequence[str]] | None = None,
        run_config: dict | None = None,
    ) -> str:
        return self.client.submit_job_execution(
            job_name,
            repository_location_name=LOCATION,
            repository_name=REPOSITORY,
            run_config=run_config or {},
            tags=tags,
            asset_selection=[list(key) for key in asset_selection] if asset_selection else None,
        )

    def run(self, run_id: str) -> dict:
        return self.query(
            "query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { runId jobName status startTime "
            "endTime tags { key value } } ... on PythonError { message } } }",
            id=run_id,
        )["runOrError"]

    def runs(self, statuses: Sequence[str] | None = None, tags: dict[str, str] | None = None) -> list[dict]:
        run_filter: dict[str, Any] = {}
        if statuses:
            run_filter["statuses"] = list(statuses)
        if tags:
            run_filter["tags"] = [{"key": key, "value": value} for key, value in tags.items()]
        return self.query(
            "query($filter: RunsFilter) { runsOrError(filter: $filter, limit: 500) { ... on Runs { results { "
            "runId jobName status startTime endTime tags { key value } } } } }",
            filter=run_filter,
        )["runsOrError"]["results"]

    def failure_message(self, run_id: str) -> str:
        events = self.query(
            "query($id: ID!) { logsForRun(runId: $id, limit: 5000) { ... on EventConnection { events { "
            "__typename ... on MessageEvent { message stepKey } ... on ExecutionStepFailureEvent { error { message } } "
            "... on RunFailureEvent { pipelineName } } } } }",
            id=run_id,
        )["logsForRun"]["events"]
        lines = [
            f"{event.get('stepKey') or 'run'}: {event.get('message')} {(event.get('error') or {}).get('message', '')}"
            for event in events
            if event["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent", "EngineEvent")
        ]
        return "\n".join(lines[-20:])

    def materializations(self, asset: str, partitions: Sequence[str] | None) -> list[dict]:
        """The asset's materializations of `partitions` (None: of every partition)."""
        return self.query(
            "query($path: [String!]!, $partitions: [String!]) { assetOrError(assetKey: {path: $path}) { "
            "... on Asset { assetMaterializations(partitions: $partitions, limit: 1000) { "
            "runId partition timestamp } } } }",
            path=[asset],
            partitions=None if partitions is None else list(partitions),
        )["assetOrError"].get("assetMaterializations", [])

    def run_events(self, run_id: str) -> list[dict]:
        """Every event of a run, in order: `__typename` (RunEnqueuedEvent, EngineEvent…), `message`,
        `timestamp` (epoch milliseconds, as text) and `stepKey`."""
        return self.query(
            "query($id: ID!) { logsForRun(runId: $id, limit: 5000) { ... on EventConnection { events { "
            "__typename ... on MessageEvent { message timestamp stepKey } } } } }",
            id=run_id,
        )["logsForRun"]["events"]

    # -- schedules and asset backfills -----------------------------------------------------------

    def stop_schedule(self, name: str) -> None:
        state = self.query(
            f"query($name: String!) {{ scheduleOrError(scheduleSelector: {{repositoryLocationName: "
            f'"{LOCATION}", repositoryName: "{REPOSITORY}", scheduleName: $name}}) {{ __typename '
            "... on Schedule { scheduleState { id } } ... on PythonError { message } } }",
            name=name,
        )["scheduleOrError"]
        assert "scheduleState" in state, f"schedule {name}: {state}"
        answer = self.query(
            "mutation($id: String!) { stopRunningSchedule(id: $id) { __typename "
            "... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }",
            id=state["scheduleState"]["id"],
        )["stopRunningSchedule"]
        assert answer.get("scheduleState", {}).get("status") == "STOPPED", answer

    def launch_asset_backfill(
        self, assets: Sequence[str], partitions: Sequence[str], tags: dict[str, str] | None = None
    ) -> str:
        """What the UI's "Materialize… → Launch backfill" sends for `assets` over `partitions` (its
        `dagster/from_ui` tag included): a pure asset backfill, which the daemon turns into runs."""
        answer = self.query(
            "mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) { "
            "__typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message stack } "
            "... on Error { message } } }",
            params={
                "assetSelection": [{"path": [asset]} for asset in assets],
                "partitionNames": list(partitions),
                "fromFailure": False,
                "tags": [{"key": key, "value": value} for key, value in {**(tags or {}), **UI_TAGS}.items()],
            },
        )["launchPartitionBackfill"]
        assert answer["__typename"] == "LaunchBackfillSuccess", answer
        return answer["backfillId"]

    def backfill(self, backfill_id: str) -> dict:
        """Status, runs and per-asset partition counts of a backfill."""
        answer = self.query(
            "query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename "
            "... on PartitionBackfill { id status timestamp endTimestamp numPartitions "
            "error { message } runs { runId status creationTime startTime endTime assetSelection { path } } "
            "assetBackfillData { assetBackfillStatuses { __typename ... on AssetPartitionsStatusCounts { "
            "assetKey { path } numPartitionsTargeted numPartitionsInProgress numPartitionsMaterialized "
            "numPartitionsFailed } } } } ... on PythonError { message } ... on BackfillNotFoundError { message } } }",
            id=backfill_id,
        )["partitionBackfillOrError"]
        assert answer["__typename"] == "PartitionBackfill", answer
        return answer


def quietly(probe):
    """A probe that counts a refused connection (a process still starting) as 'not yet'."""

    def attempt():
        try:
            return probe()
        except Exception as error:  # the GraphQL client wraps connection errors in several types
            if "Connection refused" in repr(error) or "connecting to url" in str(error):
                return None
            raise

    return attempt
