"""Scale-out backends: what engine replicas share through Redis when ``redis_url`` is set.

* the synthesis cache: :mod:`tts.redis_cache`
* long-text jobs: records and results in :mod:`engine.scaleout.job_records`, the queue on arq
  (:mod:`engine.scaleout.arq_jobs`), run by ``tingshuo worker`` (:mod:`engine.scaleout.worker_cli`)
* rate limits: :mod:`engine.security.redis_store`
"""
