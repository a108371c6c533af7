"""Lazy ("row_sparse") variants of the five Object2Vec optimizers.

`token_embedding_storage_type="row_sparse"` trains with these optimizers.
A token table's gradient is a `tf.IndexedSlices` (the rows a batch looked
up); the stock Keras optimizers turn most of it into whole-table work each
step (Adam, RMSprop and Adadelta decay every row's slots; Adagrad divides by
the whole accumulator; weight decay shrinks the whole table), so step time
grows with the vocabulary. Here, for an `IndexedSlices` gradient:

1. duplicate indices are merged and their rows summed;
2. the rows of each slot variable at those indices are gathered, the
   optimizer's formula is applied to them only, the new slot rows are
   scattered back and the change of the weights is scatter-added to the
   table. Other rows, and their slots, are not touched at all.

This is MXNet's `lazy_update` for `row_sparse` gradients, which SageMaker's
Object2Vec used:

* Adam, RMSprop, Adadelta (and SGD with momentum) only decay the slots of
  rows in the batch: a row unseen for k steps keeps its moments as they were,
  instead of decaying them k times. Adam's bias correction uses the global
  step count (`optimizer.iterations`), as MXNet and TF's `LazyAdam` do.
* Plain SGD and Adagrad give the dense result, up to rounding (an absent row
  has a zero gradient, so the dense update leaves it unchanged too).
* `weight_decay` (Keras' decoupled decay, `w -= learning_rate * weight_decay
  * w`) is applied to the rows in the batch only.

Dense gradients (every other weight) get the stock Keras update, weight
decay included. The classes subclass the Keras optimizers and are registered
as `keras_o2v>LazyAdam`..., so a compiled model saved as `.keras` reloads
without `custom_objects`.

Keras internals: the classes override `update_step` and the private hook
`_apply_weight_decay` (weight decay moves into `update_step`, where the kind
of gradient is known), and use `_get_variable_index` and `_use_weight_decay`
as every Keras optimizer does. `tests/test_optimizers.py` pins the behaviour.
"""

import keras
import tensorflow as tf
from keras import ops

from keras_o2v.api_export import register

__all__ = ["LazyAdam", "LazyAdagrad", "LazySGD", "LazyRMSprop",
           "LazyAdadelta", "LAZY_OPTIMIZERS", "deduplicate"]


def _tf_variable(variable):
    """The `tf.Variable` behind a Keras variable (gather reads only rows)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _is_indexed_slices(gradient):
    # Only the TensorFlow backend makes sparse gradients.
    return (keras.backend.backend() == "tensorflow"
            and isinstance(gradient, tf.IndexedSlices))


def deduplicate(gradient):
    """Merges the rows of `gradient` (`tf.IndexedSlices`) that share an index.

    Returns:
        `(indices, values)`: unique indices (in order of first appearance)
        and, for each, the sum of its rows.
    """
    indices, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions,
                                          tf.shape(indices)[0])
    return indices, values


class LazyUpdateMixin:
    """Applies `tf.IndexedSlices` gradients to the touched rows only.

    Subclasses name their slot variables of one model variable
    (`_lazy_slots`) and give the formula on gathered rows (`_lazy_update`).
    """

    def update_step(self, gradient, variable, learning_rate):
        """Weight decay, then the update: lazy rows or stock Keras."""
        decay = (self.weight_decay is not None
                 and self._use_weight_decay(variable))
        if not _is_indexed_slices(gradient):
            # Backend ops only: JAX and PyTorch gradients are always dense,
            # so a model trained on TensorFlow loads and trains there too.
            if decay:
                # What Keras' `_apply_weight_decay` does before the update.
                lr = ops.cast(learning_rate, variable.dtype)
                wd = ops.cast(self.weight_decay, variable.dtype)
                self.assign_sub(variable, variable * wd * lr)
            super().update_step(gradient, variable, learning_rate)
            return
        lr = tf.cast(learning_rate, variable.dtype)
        indices, grad = deduplicate(gradient)
        grad = tf.cast(grad, variable.dtype)
        slots = self._lazy_slots(self._get_variable_index(variable))
        slot_rows = [tf.gather(_tf_variable(s), indices) for s in slots]
        change, slot_rows = self._lazy_update(grad, slot_rows, lr)
        if decay:
            # No optimizer's update depends on the weights, so decaying
            # first (as Keras does) just adds this term.
            rows = tf.gather(_tf_variable(variable), indices)
            change -= rows * tf.cast(self.weight_decay, variable.dtype) * lr
        self.assign_add(variable, tf.IndexedSlices(change, indices))
        for slot, values in zip(slots, slot_rows):
            self.assign(slot, tf.IndexedSlices(values, indices))

    def _apply_weight_decay(self, variables):
        # Keras decays every variable before `update_step`; `update_step`
        # does it instead, lazily for sparse gradients.
        return

    def _lazy_slots(self, index):
        raise NotImplementedError

    def _lazy_update(self, grad, slot_rows, lr):
        """Returns the change to add to the rows, and the new `slot_rows`."""
        raise NotImplementedError


@register
class LazySGD(LazyUpdateMixin, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with lazy row updates for sparse gradients.

    Without momentum this equals SGD (`w -= lr * g` on the touched rows).
    With momentum, only the touched rows' momentum is updated (MXNet's lazy
    SGD). Args: those of `keras.optimizers.SGD`.
    """

    def _lazy_slots(self, index):
        return [self.momentums[index]] if self.momentum != 0 else []

    def _lazy_update(self, grad, slot_rows, lr):
        if self.momentum == 0:
            return -lr * grad, []
        momentum = tf.cast(self.momentum, grad.dtype)
        m = momentum * slot_rows[0] - lr * grad
        if self.nesterov:
            return momentum * m - lr * grad, [m]
        return m, [m]


@register
class LazyAdagrad(LazyUpdateMixin, keras.optimizers.Adagrad):
    """`keras.optimizers.Adagrad` updating only the touched rows.

    Equals Adagrad on the touched rows (a zero gradient leaves a row and its
    accumulator unchanged). Args: those of `keras.optimizers.Adagrad`.
    """

    def _lazy_slots(self, index):
        return [self._accumulators[index]]

    def _lazy_update(self, grad, slot_rows, lr):
        accumulator = slot_rows[0] + tf.square(grad)
        return -lr * grad / tf.sqrt(accumulator + self.epsilon), [accumulator]


@register
class LazyAdam(LazyUpdateMixin, keras.optimizers.Adam):
    """`keras.optimizers.Adam` with lazy moment updates for sparse gradients.

    Only the touched rows' moments are updated; bias correction uses the
    global step (`iterations + 1`). Args: those of `keras.optimizers.Adam`.
    """

    def _lazy_slots(self, index):
        slots = [self._momentums[index], self._velocities[index]]
        if self.amsgrad:
            slots.append(self._velocity_hats[index])
        return slots

    def _lazy_update(self, grad, slot_rows, lr):
        dtype = grad.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        alpha = lr * tf.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
        m = beta_1 * slot_rows[0] + (1 - beta_1) * grad
        v = beta_2 * slot_rows[1] + (1 - beta_2) * tf.square(grad)
        new_slots = [m, v]
        if self.amsgrad:
            v = tf.maximum(slot_rows[2], v)
            new_slots.append(v)
        return -alpha * m / (tf.sqrt(v) + self.epsilon), new_slots


@register
class LazyRMSprop(LazyUpdateMixin, keras.optimizers.RMSprop):
    """`keras.optimizers.RMSprop` with lazy slot updates for sparse gradients.

    Only the touched rows' velocity (and momentum, centred mean) are updated.
    Args: those of `keras.optimizers.RMSprop`.
    """

    def _lazy_slots(self, index):
        slots = [self._velocities[index]]
        if self.momentum > 0:
            slots.append(self._momentums[index])
        if self.centered:
            slots.append(self._average_gradients[index])
        return slots

    def _lazy_update(self, grad, slot_rows, lr):
        rho = tf.cast(self.rho, grad.dtype)
        velocity = rho * slot_rows[0] + (1 - rho) * tf.square(grad)
        new_slots = [velocity]
        if self.centered:
            average = rho * slot_rows[-1] + (1 - rho) * grad
            denominator = velocity - tf.square(average) + self.epsilon
        else:
            denominator = velocity + self.epsilon
        increment = lr * grad / tf.sqrt(denominator)
        if self.momentum > 0:
            increment = self.momentum * slot_rows[1] + increment
            new_slots.append(increment)
        if self.centered:
            new_slots.append(average)
        return -increment, new_slots


@register
class LazyAdadelta(LazyUpdateMixin, keras.optimizers.Adadelta):
    """`keras.optimizers.Adadelta` with lazy accumulators for sparse gradients.

    Only the touched rows' accumulators are updated. Args: those of
    `keras.optimizers.Adadelta`.
    """

    def _lazy_slots(self, index):
        return [self._accumulated_grads[index],
                self._accumulated_delta_vars[index]]

    def _lazy_update(self, grad, slot_rows, lr):
        rho = tf.cast(self.rho, grad.dtype)
        accumulated_grad = rho * slot_rows[0] + (1 - rho) * tf.square(grad)
        delta = (-tf.sqrt(slot_rows[1] + self.epsilon) * grad
                 / tf.sqrt(accumulated_grad + self.epsilon))
        accumulated_delta = rho * slot_rows[1] + (1 - rho) * tf.square(delta)
        return lr * delta, [accumulated_grad, accumulated_delta]


LAZY_OPTIMIZERS = {
    "adam": LazyAdam,
    "adagrad": LazyAdagrad,
    "sgd": LazySGD,
    "rmsprop": LazyRMSprop,
    "adadelta": LazyAdadelta,
}
