"""The one resource every asset uses: where the store lives and which configuration applies."""


from functools import cached_property

import dagster as dg

from ..core.common.config import home_record, load_config
from ..core.common.store import Store

video_shards = dg.DynamicPartitionsDefinition(name="video_shards")


class VidgenResource(dg.ConfigurableResource):
    """``home``: the store root (local folder or URI); its configuration of record applies.
    ``config_path``: an optional one-off YAML overlay (tests compare two configurations with it)."""

    home: str
    config_path: str = ""

    @cached_property
    def store(self) -> Store:
        return Store(self.home)

    @cached_property
    def config(self) -> dict:
        return load_config(self.config_path or None, home_record(self.store))
