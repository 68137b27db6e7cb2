# A slim, non-root image of the bot. Build: docker build -t model-incident-bot .
FROM python:3.11-slim AS build
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY bot ./bot
COPY tools ./tools
COPY sandbox ./sandbox
COPY evals ./evals
COPY runbooks ./runbooks
COPY prompts ./prompts
RUN uv sync --frozen --no-dev

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 bot
WORKDIR /app
COPY --from=build --chown=bot:bot /app /app
USER bot
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 STATE_DIR=/home/bot/state
ENTRYPOINT ["model-incident"]
CMD ["demo"]
