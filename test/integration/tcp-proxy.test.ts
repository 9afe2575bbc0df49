import { connect, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { useRedisServer } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

// The fault proxy itself, against a real redis-server: the fault suite's verdicts are only as good as it.

/** A raw RESP connection that collects what the server answers. */
function rawClient(port: number): Promise<{ socket: Socket; replies: () => string }> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect({ port, host: '127.0.0.1' }, () => resolve({ socket, replies: () => received }));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.once('error', reject);
    onTestFinished(() => {
      socket.destroy();
    });
  });
}

describe('the TCP proxy of the fault tests', () => {
  const redis = useRedisServer();

  it('keeps the byte order when the latency is lifted while delayed bytes are still on their way', async () => {
    const proxy = await startTcpProxy(redis.server.port);
    onTestFinished(() => proxy.close());
    const { socket, replies } = await rawClient(proxy.port);
    proxy.latency(200);
    for (let i = 1; i <= 3; i++) socket.write(`ECHO ${i}\r\n`);
    // Lets the bytes reach the proxy (loopback: well under 50 ms); were it too short, the test would
    // pass without testing anything, never fail for nothing.
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Lifted while the first commands are delayed: the next ones must not overtake them.
    proxy.restore();
    for (let i = 4; i <= 6; i++) socket.write(`ECHO ${i}\r\n`);
    await waitFor(() => replies().split('\r\n').length > 12, 'six replies');
    expect(replies()).toBe('$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n');
  });

  it('freeze(): open and new connections get no answer until restore(), then every answer in order', async () => {
    const proxy = await startTcpProxy(redis.server.port);
    onTestFinished(() => proxy.close());
    const open = await rawClient(proxy.port);
    open.socket.write('PING\r\n');
    await waitFor(() => open.replies() === '+PONG\r\n', 'the first PONG');
    proxy.freeze();
    open.socket.write('ECHO a\r\n');
    const late = await rawClient(proxy.port);
    late.socket.write('ECHO b\r\n');
    open.socket.write('ECHO c\r\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Nothing is answered, and the sockets are not closed either: a frozen server.
    expect(open.replies()).toBe('+PONG\r\n');
    expect(late.replies()).toBe('');
    expect(open.socket.destroyed || late.socket.destroyed).toBe(false);
    proxy.restore();
    await waitFor(() => open.replies().endsWith('$1\r\nc\r\n') && late.replies() === '$1\r\nb\r\n', 'the held answers');
    expect(open.replies()).toBe('+PONG\r\n$1\r\na\r\n$1\r\nc\r\n');
  });
});
