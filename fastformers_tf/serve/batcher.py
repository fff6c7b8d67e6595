"""`MicroBatcher`: concurrent requests gathered into one predictor call, each answered on its own.

The first waiting request opens a batch. Requests that arrive within
`max_wait_ms` join it, until `max_batch` texts are in. The batch then runs
on the predictor in one worker thread, so the event loop keeps accepting
requests; the predictor sorts it by length and pads each forward pass to its
own longest row. A request is never split across batches.
"""

import asyncio
import concurrent.futures
import dataclasses
import time


@dataclasses.dataclass
class Pending:
    """One request: its texts (and second texts), and the future its answer is set on."""

    texts: list
    pairs: list | None
    future: asyncio.Future


class MicroBatcher:
    """Micro-batches requests onto a `Predictor`.

    Args:
        predictor: any `Predictor` (one session, or multi-instance workers
            fed from one queue).
        max_batch: most texts per predictor call.
        max_wait_ms: longest a request waits for others to join its batch.
        on_batch: called with `(texts in the batch, seconds it ran)` after
            each batch (metrics).

    Example:
        >>> batcher = MicroBatcher(predictor, max_batch=32, max_wait_ms=5)
        >>> await batcher.start()
        >>> await batcher.submit(["a fine film"])
        [('positive', {'negative': 0.02, 'positive': 0.98})]
    """

    def __init__(self, predictor, max_batch=32, max_wait_ms=5.0, on_batch=None):
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError(f"max_batch must be >= 1 and max_wait_ms >= 0, got {max_batch} and {max_wait_ms}.")
        self.predictor, self.max_batch, self.max_wait = predictor, max_batch, max_wait_ms / 1000
        self.on_batch = on_batch
        self.queue = None
        self.closing = False
        self._task = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="predictor")

    @property
    def running(self):
        """Started and not stopping: taking requests."""
        return self._task is not None and not self.closing

    @property
    def depth(self):
        """Requests waiting for a batch."""
        return self.queue.qsize() if self.queue is not None else 0

    async def start(self):
        self.queue = asyncio.Queue()
        self.closing = False
        self._task = asyncio.create_task(self._run())

    async def submit(self, texts, pairs=None):
        """`(label, {label: probability})` per text, once the batch holding this request has run."""
        if self.closing:
            raise RuntimeError("The server is shutting down.")
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(Pending(list(texts), None if pairs is None else list(pairs), future))
        return await future

    async def stop(self):
        """Answers every request already queued, then stops."""
        if self._task is not None:
            self.closing = True
            await self.queue.put(None)
            await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def _next(self, timeout):
        """The next queued item within `timeout` seconds (None: the stop marker); raises `TimeoutError`."""
        if timeout <= 0:
            try:
                return self.queue.get_nowait()
            except asyncio.QueueEmpty:
                raise TimeoutError from None
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def _run(self):
        loop = asyncio.get_running_loop()
        carry, stop = None, False
        while not stop:
            first = carry if carry is not None else await self.queue.get()
            carry = None
            if first is None:  # the stop marker: every request queued before it has been answered
                break
            batch, size = [first], len(first.texts)
            deadline = loop.time() + self.max_wait
            while size < self.max_batch:
                try:
                    item = await self._next(deadline - loop.time())
                except TimeoutError:
                    break
                if item is None:
                    stop = True
                    break
                if size + len(item.texts) > self.max_batch:
                    carry = item  # opens the next batch
                    break
                batch.append(item)
                size += len(item.texts)
            await self._answer(batch)

    async def _answer(self, batch):
        start = time.perf_counter()
        try:
            results = await asyncio.get_running_loop().run_in_executor(self._executor, self._predict, batch)
            if self.on_batch:
                self.on_batch(sum(len(p.texts) for p in batch), time.perf_counter() - start)
            for pending, result in zip(batch, results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(result)
        except Exception as e:  # every request of the batch gets the error; the batcher keeps running
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(e)

    def _predict(self, batch):
        """Per request, its `(label, probabilities)` list: single texts and pairs run as separate calls."""
        results = [None] * len(batch)
        for with_pairs in (False, True):
            members = [i for i, p in enumerate(batch) if (p.pairs is not None) == with_pairs]
            if not members:
                continue
            texts = [t for i in members for t in batch[i].texts]
            pairs = [t for i in members for t in batch[i].pairs] if with_pairs else None
            answers = self.predictor.classify(texts, pairs)
            offset = 0
            for i in members:
                results[i] = answers[offset : offset + len(batch[i].texts)]
                offset += len(batch[i].texts)
        return results
