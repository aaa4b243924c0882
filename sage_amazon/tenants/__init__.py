"""Many sellers in one deployment (issue 19, docs/multi-seller.md): the tenants file (`tenants_file`, no Dagster),
one code location per tenant (`location`), the run coordinator that tags a tenant's runs (`coordinator`), the
Celery workers' app (`celery_app`) and `sage-amazon run` for many tenants through the webserver (`runs`).
"""
