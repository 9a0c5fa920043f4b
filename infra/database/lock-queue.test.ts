import { emptyQueue, LockQueue, release, request } from './lock-queue';

const requestAll = (q: LockQueue, ...ids: number[]) => ids.reduce((acc, id) => request(acc, id).queue, q);

test('the first session is granted the lock; later ones wait in arrival order', () => {
  const first = request(emptyQueue, 1);
  expect(first.granted).toBe(true);
  const second = request(first.queue, 2);
  expect(second.granted).toBe(false);
  expect(requestAll(second.queue, 3)).toEqual({ owner: 1, waiting: [2, 3], urgent: [] });
});

test('asking again while holding or waiting changes nothing', () => {
  const q = requestAll(emptyQueue, 1, 2);
  expect(request(q, 1)).toEqual({ queue: q, granted: true });
  expect(request(q, 2)).toEqual({ queue: q, granted: false });
});

test('release hands the lock to the longest waiting session', () => {
  const q = requestAll(emptyQueue, 1, 2, 3);
  const r = release(q, 1);
  expect(r).toEqual({ queue: { owner: 2, waiting: [3], urgent: [] }, next: 2 });
  expect(release(release(r.queue, 2).queue, 3)).toEqual({ queue: emptyQueue, next: undefined });
});

test('a waiting session that leaves is taken out of the line without moving the lock', () => {
  const q = requestAll(emptyQueue, 1, 2, 3);
  expect(release(q, 2)).toEqual({ queue: { owner: 1, waiting: [3], urgent: [] }, next: undefined });
  expect(release(q, 9)).toEqual({ queue: q, next: undefined });
});

test('an urgent session waits ahead of the others, behind earlier urgent ones', () => {
  const q = requestAll(emptyQueue, 1, 2, 3);
  const a = request(q, 7, true).queue;
  const b = request(a, 8, true).queue;
  expect(b).toEqual({ owner: 1, waiting: [7, 8, 2, 3], urgent: [7, 8] });
  const r = release(b, 1);
  expect(r).toEqual({ queue: { owner: 7, waiting: [8, 2, 3], urgent: [8] }, next: 7 });
  expect(request(r.queue, 9, true).queue).toEqual({ owner: 7, waiting: [8, 9, 2, 3], urgent: [8, 9] });
});

test('an urgent session that leaves the line is no longer counted as waiting', () => {
  const q = request(requestAll(emptyQueue, 1, 2), 5, true).queue;
  expect(release(q, 5)).toEqual({ queue: { owner: 1, waiting: [2], urgent: [] }, next: undefined });
});
