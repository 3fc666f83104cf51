-- CreateEnum
CREATE TYPE "AnalysisState" AS ENUM ('PENDING', 'COMPLETE', 'FAILED');

-- CreateTable
CREATE TABLE "ConfigurationAnalysis" (
    "searchId" UUID NOT NULL,
    "seeds" INTEGER NOT NULL,
    "state" "AnalysisState" NOT NULL DEFAULT 'PENDING',
    "analysis" JSON,
    "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ConfigurationAnalysis_pkey" PRIMARY KEY ("searchId")
);

-- AddForeignKey
ALTER TABLE "ConfigurationAnalysis" ADD CONSTRAINT "ConfigurationAnalysis_searchId_fkey" FOREIGN KEY ("searchId") REFERENCES "Search"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Constraints the Prisma schema cannot express.
ALTER TABLE "ConfigurationAnalysis" ADD CONSTRAINT "ConfigurationAnalysis_seeds_check" CHECK ("seeds" >= 1);
ALTER TABLE "ConfigurationAnalysis" ADD CONSTRAINT "ConfigurationAnalysis_complete_check"
  CHECK (("state" = 'COMPLETE') = ("analysis" IS NOT NULL));
