-- Trials to criterion, batch size and firing statistics of every task result. Nullable: rows recorded
-- before this migration have none of them, and stay readable as they are.
ALTER TABLE "TaskResult" ADD COLUMN "trialsToCriterion" DOUBLE PRECISION,
ADD COLUMN "batchSize" INTEGER,
ADD COLUMN "activeNeurons" DOUBLE PRECISION,
ADD COLUMN "neurons" INTEGER,
ADD COLUMN "fractionSilent" DOUBLE PRECISION;

-- Constraints the Prisma schema cannot express.
ALTER TABLE "TaskResult" ADD CONSTRAINT "TaskResult_batchSize_check" CHECK ("batchSize" IS NULL OR "batchSize" >= 1);
ALTER TABLE "TaskResult" ADD CONSTRAINT "TaskResult_neurons_check" CHECK ("neurons" IS NULL OR "neurons" >= 1);
