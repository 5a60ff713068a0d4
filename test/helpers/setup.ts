/** Runs with every test file: servers a failed test left running are stopped (and their apps with them). */
import { afterAll } from 'vitest';
import { stopAllServers } from './serve-in-process.js';

afterAll(stopAllServers, 15_000);
