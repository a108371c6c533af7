"""One entry point for a channel: JSON Lines or prepared data.

A channel path is JSON Lines (a file or a directory of files) or a
directory written by `keras-o2v convert` (`keras_o2v.data.prepared`),
recognised by its manifest. Training, evaluation and tuning open channels
here, so both kinds work wherever a path is taken.
"""

from keras_o2v.data.dataset import JsonlChannel
from keras_o2v.data.jsonl import list_files
from keras_o2v.data.jsonl import scan
from keras_o2v.data.prepared import PreparedChannel
from keras_o2v.data.prepared import check_spec
from keras_o2v.data.prepared import is_prepared
from keras_o2v.data.prepared import load_manifest
from keras_o2v.data.prepared import manifest_stats

# Settings of the JSON Lines reader that prepared data has no use for.
_JSONL_ONLY = ("stats", "chunk_lines", "cache", "workers")


def open_channel(path, spec, batch_size, **kwargs):
    """`PreparedChannel` for a prepared directory, else `JsonlChannel`.

    Args:
        path: JSON Lines file or directory, or a prepared directory.
        spec: `RecordSpec` of the model.
        batch_size: int.
        **kwargs: the channel's other arguments (`shuffle`, `seed`,
            `bucket_width`, ...). `JsonlChannel`-only ones (`stats`,
            `chunk_lines`, `cache`, `workers`) are dropped for prepared data,
            which knows its counts from its manifest.
    """
    if is_prepared(path):
        # Stats from `channel_stats` mean its checksums were just verified.
        verify = kwargs.get("stats") is None
        kwargs = {k: v for k, v in kwargs.items() if k not in _JSONL_ONLY}
        return PreparedChannel(path, spec, batch_size, verify=verify,
                               **kwargs)
    return JsonlChannel(path, spec, batch_size, **kwargs)


def channel_stats(path, spec):
    """`ChannelStats` of a channel, every record checked against `spec`.

    JSON Lines: one validating pass (`scan`). Prepared data: its manifest,
    shard sizes and checksums, and the bounds it records (largest ids,
    label range) against `spec`; the records were validated by `convert`.

    Raises:
        ValueError: naming the file and line, or the shard or manifest, and
            what to do.
    """
    if is_prepared(path):
        manifest = load_manifest(path)
        check_spec(manifest, spec, path)
        return manifest_stats(manifest, spec)
    return scan(path, spec)


def num_parts(path):
    """Files a channel can be split into between workers: its JSON Lines
    files, or its prepared shards."""
    if is_prepared(path):
        return len(load_manifest(path, verify=False)["shards"])
    return len(list_files(path))
