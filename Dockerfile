# Pledge Tracker: a Node stage builds the front-end assets, a slim Python runtime serves them.

FROM node:20-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TRACKER_ENV=production \
    TRACKER_INSTANCE_PATH=/app/instance
WORKDIR /app
COPY requirements/main.txt requirements/main.txt
RUN pip install --no-cache-dir -r requirements/main.txt
COPY pyproject.toml README.md ./
COPY tracker tracker
COPY jobs jobs
COPY migrations migrations
COPY templates templates
COPY seed seed
# Editable, so the templates/, migrations/ and seed/ folders beside the package are found.
RUN pip install --no-cache-dir --no-deps -e .
COPY --from=assets /build/node_modules/govuk-frontend/dist node_modules/govuk-frontend/dist
RUN useradd --create-home --uid 10001 tracker \
    && mkdir -p /app/instance/open-data /app/instance/evidence \
    && chown -R tracker:tracker /app/instance
USER tracker
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--preload", "--keep-alive", "5", "--access-logfile", "-", "tracker.wsgi:app"]
