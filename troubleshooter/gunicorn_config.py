"""gunicorn's settings for Scope Doctor, named on its command line:

    gunicorn -c python:troubleshooter.gunicorn_config troubleshooter.wsgi

Only what the site needs of gunicorn itself lives here; workers and the
address stay on the command line, where each deployment sets them.
"""


def post_worker_init(worker) -> None:
    # Each worker loads the reference data before its first request, so that
    # when the database goes away every worker can answer from memory.
    from scopes.services import hold_reference_data

    hold_reference_data()
