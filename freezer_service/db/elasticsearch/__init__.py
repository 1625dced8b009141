"""The Elasticsearch/OpenSearch metadata backend (``[storage] backend = elasticsearch``)."""
