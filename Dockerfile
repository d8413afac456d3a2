# The app image: `oms web` and `oms worker` of the scaled deployment.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# Noto CJK: Chinese labels, names and addresses on pages and printed slips never show as boxes
# (web/static/oms.css and web/templates/print/document.html name it in their font stacks).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine engine
COPY workflows workflows
COPY activities activities
COPY services services
COPY web web
COPY designer designer
COPY oms oms
COPY definitions definitions
# Editable: the engine reads definitions/schemas from the source tree.
RUN pip install --no-cache-dir -e .
USER nobody
EXPOSE 8000
CMD ["oms", "web", "--host", "0.0.0.0"]
