// The bounded semaphore around argon2: at most N tasks at once, a bounded queue, refusals past it, slots freed on failure.
import t from 'tap'
import { Semaphore } from '../../src/keys/semaphore.js'

/** A task the semaphore admitted (into a slot or its queue). */
function admitted<T> (semaphore: Semaphore, task: () => Promise<T>): Promise<T> {
  const running = semaphore.tryRun(task)
  if (running === undefined) throw new Error('refused where a slot or a queue place was free')
  return running
}

function deferred (): { promise: Promise<void>, resolve: () => void, reject: (error: Error) => void } {
  let settle!: { resolve: () => void, reject: (error: Error) => void }
  const promise = new Promise<void>((resolve, reject) => { settle = { resolve, reject } })
  return { promise, resolve: () => settle.resolve(), reject: (error) => settle.reject(error) }
}

t.test('runs at most `concurrency` tasks at once, in arrival order, and refuses past the queue', async (t) => {
  const semaphore = new Semaphore(2, 3)
  const gates = Array.from({ length: 5 }, deferred)
  const started: number[] = []
  const runs = gates.map(async (gate, index) => await admitted(semaphore, async () => { started.push(index); await gate.promise; return index }))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(started, [0, 1], 'two run')
  t.equal(semaphore.active, 2)
  t.equal(semaphore.queued, 3)
  let sixthStarted = false
  t.equal(semaphore.tryRun(async () => { sixthStarted = true }), undefined, 'a sixth is refused at once: every slot taken and the queue at its limit')
  t.equal(sixthStarted, false, 'and never started')

  gates[0]?.resolve()
  await runs[0]
  await new Promise((resolve) => setImmediate(resolve))
  t.same(started, [0, 1, 2], 'a finished task hands its slot to the first waiting')
  t.equal(semaphore.active, 2)

  gates[1]?.reject(new Error('failed'))
  await t.rejects(runs[1] as Promise<number>, /failed/, 'a failing task passes its error on')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(started, [0, 1, 2, 3], 'and still frees its slot')
  for (const gate of gates.slice(2)) gate.resolve()
  t.same(await Promise.all(runs.slice(2)), [2, 3, 4])
  t.equal(semaphore.active, 0)
  t.not(semaphore.tryRun(async () => {}), undefined, 'free again')
  t.equal(semaphore.peak, 2, 'never more than two')
})

t.test('a queue of 0 refuses whenever every slot is taken', async (t) => {
  const semaphore = new Semaphore(1, 0)
  const gate = deferred()
  const running = admitted(semaphore, async () => await gate.promise)
  t.equal(semaphore.tryRun(async () => {}), undefined)
  gate.resolve()
  await running
  await admitted(semaphore, async () => {})
  t.pass('free again once the slot is released')
})

t.test('invalid sizes are refused', async (t) => {
  t.throws(() => new Semaphore(0, 1), RangeError)
  t.throws(() => new Semaphore(1, -1), RangeError)
  t.throws(() => new Semaphore(1.5, 1), RangeError)
})
