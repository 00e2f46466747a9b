// SPDX-License-Identifier: LGPL-2.1-or-later
//
// queue-consumer.js: a GJS consumer on the named queue that
// queue-producer.c fills, awaiting each message (Gio._promisify) while
// the main loop keeps running. receive_message tells how each message
// was sent: bytes, or a GVariant. An empty message is the end.
//
//     ./queue-producer /jobs 10 &
//     gjs -m queue-consumer.js /jobs
//
// Without a NAME it makes one, starts the producer itself (the program in
// $PS_QUEUE_PRODUCER, or queue-producer on the PATH) and removes the name
// at the end.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';
import System from 'system';

Gio._promisify(Ps.Queue.prototype, 'receive_message_async', 'receive_message_finish');
Gio._promisify(Gio.Subprocess.prototype, 'wait_check_async', 'wait_check_finish');

const TIMEOUT_US = 10 * 1000000;            // a bug fails, never hangs

let name = ARGV[0];
let producer = null;
if (name === undefined) {
    name = `/queue-js-${new Gio.Credentials().get_unix_pid()}`;
    producer = Gio.Subprocess.new([GLib.getenv('PS_QUEUE_PRODUCER') ?? 'queue-producer',
        name, '10'], Gio.SubprocessFlags.NONE);
}

// Opens the queue, or creates it if the producer has not yet.
const jobs = Ps.Queue.open(name, Ps.OpenFlags.CREATE, 16, 256);
const decoder = new TextDecoder();

async function consume() {
    let received = 0;
    for (;;) {
        const [kind, bytes, value] = await jobs.receive_message_async(TIMEOUT_US, null);
        if (kind === Ps.QueueMessageKind.VARIANT) {
            print(`a variant job: ${value.print(false)}`);
        } else if (bytes.get_size() === 0) {
            return received;                // the end
        } else {
            print(`a job: ${decoder.decode(bytes.toArray())}`);
        }
        received++;
    }
}

const loop = new GLib.MainLoop(null, false);
let status = 1;
consume().then(async received => {
    print(`${received} jobs received`);
    if (producer !== null)
        await producer.wait_check_async(null);
    status = received > 0 ? 0 : 1;
}).catch(e => printerr(`queue-consumer: ${e.message}`)).finally(() => {
    if (producer !== null)
        Ps.unlink(name);
    loop.quit();
});
loop.run();
System.exit(status);
