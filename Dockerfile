# One image for every SalesFlow process in docker-compose.yml: the user-code gRPC server (where runs
# execute), the Dagster webserver, the daemon, the one-shot warehouse set-up and the Java stand-in.
# The deployment instance deploy/dagster.yaml (PostgreSQL from DAGSTER_PG_*; the repo's top-level
# dagster.yaml is the local SQLite instance and stays out) and workspace.yaml (the gRPC server from
# DAGSTER_GRPC_*) are baked in; credentials only ever arrive as environment variables.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    SALESFLOW_DATA_DIR=/opt/dagster/data

WORKDIR /opt/dagster/app

# The package and its dependencies at the versions of requirements.lock, the ones CI tested (psycopg,
# pyarrow, numpy and scikit-learn come as manylinux wheels: no compiler needed in the image).
COPY pyproject.toml README.md requirements.lock ./
COPY salesflow_pipelines ./salesflow_pipelines
RUN pip install --constraint requirements.lock . && rm -rf build salesflow_pipelines.egg-info

# An unprivileged user owns the instance folder (compute logs, local artifacts) and the data folder
# (Parquet frames, reports); named volumes mounted there start with this ownership.
RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --home-dir /opt/dagster --no-create-home dagster \
    && mkdir -p "$DAGSTER_HOME/storage" "$SALESFLOW_DATA_DIR" \
    && chown -R dagster:dagster /opt/dagster
COPY --chown=dagster:dagster deploy/dagster.yaml $DAGSTER_HOME/dagster.yaml
COPY --chown=dagster:dagster workspace.yaml ./workspace.yaml

USER dagster
EXPOSE 3000 4000 8080

# The user-code server by default; docker-compose.yml gives each other service its command.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", \
     "-m", "salesflow_pipelines.definitions", "--location-name", "salesflow_pipelines"]
