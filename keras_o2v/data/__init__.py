"""JSON Lines data: validation, streaming, negative sampling, tf.data."""

from keras_o2v.data.dataset import JsonlChannel
from keras_o2v.data.jsonl import ChannelStats
from keras_o2v.data.jsonl import FieldSpec
from keras_o2v.data.jsonl import InputSpec
from keras_o2v.data.jsonl import RecordSpec
from keras_o2v.data.jsonl import check_record
from keras_o2v.data.jsonl import list_files
from keras_o2v.data.jsonl import read_records
from keras_o2v.data.jsonl import scan

__all__ = ["JsonlChannel", "ChannelStats", "FieldSpec", "InputSpec",
           "RecordSpec",
           "check_record", "list_files", "read_records", "scan"]
