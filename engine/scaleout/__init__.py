"""Scale-out backends: what engine replicas share through Redis when ``redis_url`` is set.

* :mod:`engine.scaleout.redis_cache` — the synthesis cache (same interface as
  ``tts.cache.SynthesisCache``: ``get``/``put``/``stats``/``enabled``)
* :mod:`engine.scaleout.redis_jobs` — the long-text job store and queue (same interface as
  ``engine.jobs.JobStore`` plus a shared, lease-based queue)
* rate limits: :mod:`engine.security.redis_store`
"""
