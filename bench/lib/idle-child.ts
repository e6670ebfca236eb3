/**
 * The raw baseline of the RSS figures: a Node.js process that does nothing,
 * with the same GC preload (and, run through tsx, the same loader) as the
 * measured children. Prints IDLE-READY; stops when stdin closes or on SIGTERM.
 */
import { IDLE_READY, serveCommands } from './child-commands.js';

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
serveCommands(stop);
setTimeout(stop, 40 * 60_000).unref();
process.stdout.write(`${IDLE_READY} ${process.pid}\n`);
