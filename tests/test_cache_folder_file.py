"""A cache key folder replaced by a file (issue 21): read as no result, then replaced with a CacheWarning when the job
stores its result there, never a NotADirectoryError."""

from __future__ import annotations

import pytest

from harness.measure.finetune.cache import CacheWarning, JobKey, ResultCache

KEY = JobKey({"task": "sst2", "seed": 42}, {"torch": "2"})


@pytest.mark.parametrize("which", ["entry", "job"])
def test_a_file_where_a_key_folder_belongs_is_replaced_with_a_warning(tmp_path, which):
    cache = ResultCache(tmp_path)
    blocked = cache.folder(KEY) if which == "entry" else cache.folder(KEY).parent
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("not a folder")
    found = cache.read(KEY)
    assert found.entry is None and found.problem.startswith("its folder is a file" if which == "entry" else
                                                            "its job's folder is a file"), found.problem  # the one to remove
    assert cache.peek(KEY) is None
    with pytest.warns(CacheWarning, match=f"cache folder {blocked} was a file, not a folder: removed"):
        with cache.lock(KEY):
            entry = cache.store(KEY, {"validation": {"accuracy": 50.0}}, {"record": 1})
    assert cache.peek(KEY) == entry
