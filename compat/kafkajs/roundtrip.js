#!/usr/bin/env node
// roundtrip.js BOOTSTRAP TOPIC N
//
// Produces N keyed messages to TOPIC with kafkajs (idempotent, acks -1),
// then consumes them back with two consumers in the group TOPIC-group,
// reading from the beginning and committing after each batch (kafkajs'
// default), and prints one JSON line summarising what each consumer read.
// compat/kafkajs_test.go runs it against an in-process silt and judges the
// summary; the script only reports. It exits 0 once every message has been
// read, 1 if that does not happen within the deadline or anything fails.
// kafkajs' own log goes to stderr, so stdout holds the summary alone.
'use strict'

const { Kafka, logLevel, Partitioners } = require('kafkajs')
const kafkajsVersion = require('kafkajs/package.json').version

const [bootstrap, topic, nArg] = process.argv.slice(2)
const n = Number(nArg)
if (!bootstrap || !topic || !Number.isInteger(n) || n <= 0) {
  console.error('usage: node roundtrip.js BOOTSTRAP TOPIC N')
  process.exit(2)
}
const group = `${topic}-group`
const deadlineMs = 25000
const batchSize = 100
const consumerNames = ['c0', 'c1']

const key = i => `key-${String(i).padStart(6, '0')}`
const value = i => `value-${String(i).padStart(6, '0')}-${'x'.repeat(i % 50)}`

const kafka = new Kafka({
  clientId: 'silt-compat-kafkajs',
  brokers: bootstrap.split(','),
  logLevel: logLevel.WARN,
  logCreator: () => ({ namespace, level, label, log }) => {
    const { message, ...extra } = log
    process.stderr.write(`[${label}] ${namespace}: ${message} ${JSON.stringify(extra)}\n`)
  },
})

const summary = {
  kafkajs: kafkajsVersion,
  topic,
  group,
  produced: 0,
  consumed: 0, // messages handed to eachMessage, duplicates included
  unique: 0, // distinct keys among them
  duplicates: [], // the first few keys read more than once
  foreign: [], // the first few messages that were never produced
  outOfOrder: [], // the first few partition offsets read out of order
  missing: 0, // produced keys never read
  partitionsByConsumer: {}, // consumer name -> partitions it read
  errors: [],
  ok: false,
}
const firstFew = (list, item) => { if (list.length < 10) list.push(item) }

async function produce () {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  try {
    for (let first = 0; first < n; first += batchSize) {
      const messages = []
      for (let i = first; i < Math.min(n, first + batchSize); i++) {
        messages.push({ key: key(i), value: value(i) })
      }
      const meta = await producer.send({ topic, acks: -1, messages })
      for (const m of meta) {
        if (m.errorCode !== 0) throw new Error(`produce to partition ${m.partition}: error code ${m.errorCode}`)
      }
      summary.produced += messages.length
    }
  } finally {
    await producer.disconnect()
  }
}

async function consume () {
  const seen = new Map() // key -> times read
  const next = new Map() // partition -> offset expected next
  const consumers = consumerNames.map(() => kafka.consumer({ groupId: group, heartbeatInterval: 1000 }))
  let done
  const allRead = new Promise(resolve => { done = resolve })
  try {
    await Promise.all(consumers.map(async (consumer, idx) => {
      const name = consumerNames[idx]
      const parts = new Set()
      summary.partitionsByConsumer[name] = parts
      await consumer.connect()
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          summary.consumed++
          parts.add(partition)
          const k = message.key.toString()
          const offset = Number(message.offset)
          const i = Number(k.slice('key-'.length))
          if (!k.startsWith('key-') || !Number.isInteger(i) || i < 0 || i >= n || message.value.toString() !== value(i)) {
            firstFew(summary.foreign, { partition, offset, key: k })
            return
          }
          const times = (seen.get(k) || 0) + 1
          seen.set(k, times)
          if (times > 1) {
            firstFew(summary.duplicates, k)
            return
          }
          summary.unique++
          const want = next.get(partition) || 0
          if (offset !== want) firstFew(summary.outOfOrder, { partition, offset, want })
          next.set(partition, offset + 1)
          if (summary.unique === n) done()
        },
      })
    }))
    let timer
    const timedOut = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`read ${summary.unique} of ${n} messages within ${deadlineMs} ms`)), deadlineMs)
    })
    try {
      await Promise.race([allRead, timedOut])
    } finally {
      clearTimeout(timer)
    }
    // Linger, so that a duplicate delivered just after the last message
    // is counted.
    await new Promise(resolve => setTimeout(resolve, 500))
  } finally {
    // disconnect commits what was read and leaves the group.
    await Promise.all(consumers.map(c => c.disconnect()))
    for (const [name, parts] of Object.entries(summary.partitionsByConsumer)) {
      summary.partitionsByConsumer[name] = [...parts].sort((a, b) => a - b)
    }
    for (let i = 0; i < n; i++) {
      if (!seen.has(key(i))) summary.missing++
    }
  }
}

async function main () {
  try {
    await produce()
    await consume()
  } catch (e) {
    summary.errors.push(String(e && e.stack ? e.stack : e))
  }
  summary.ok = summary.errors.length === 0 && summary.produced === n && summary.unique === n &&
    summary.consumed === n && summary.missing === 0 && summary.duplicates.length === 0 &&
    summary.foreign.length === 0 && summary.outOfOrder.length === 0
  process.stdout.write(JSON.stringify(summary) + '\n')
  process.exit(summary.ok ? 0 : 1)
}

main()
