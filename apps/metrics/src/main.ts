/** Metrics service entry point. */
import 'reflect-metadata';
import { requireConfig } from '@cdp/config';
import { runMain } from '@cdp/nest-platform';
import { metricsConfigSchema } from './config';
import { startMetrics } from './start';

void runMain(() => startMetrics(requireConfig(metricsConfigSchema)));
