/** Runs with every test file: servers a failed test left running are stopped (and their apps with them). */
import { afterAll } from 'vitest';
// Installs the directive registry, as every entry point does by loading the modules.
import '../../src/modules/index.js';
import { stopAllServers } from './serve-in-process.js';

afterAll(stopAllServers, 15_000);
