"""Helpers for tests of the import pages, whose imports now run as background jobs."""

from repository.import_jobs import run_pending


def run_queued_job(client, response):
    """The upload's redirect to its job page: run the queued job as the worker would, then
    open the page (which shows the report)."""
    assert response.status_code == 302, response.status_code
    run_pending()
    return client.get(response.url)
