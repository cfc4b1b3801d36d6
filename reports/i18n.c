/*
 * i18n: the renderers' own labels and sentences in en, it, fr and zh, and dates written the way
 * each language writes them. Fault texts and part names come from the catalogue. A label with
 * %s is filled by the renderer (labels are data, never format strings).
 */
#include "i18n.h"

#include <stdio.h>
#include <string.h>

struct label {
	const char *key;
	const char *text[4]; /* en, it, fr, zh */
};

static const struct label labels[] = {
    {"title", {"Diagnostic report", "Rapporto diagnostico", "Rapport de diagnostic", "诊断报告"}},
    {"device", {"Device", "Dispositivo", "Appareil", "设备"}},
    {"model", {"Model", "Modello", "Modèle", "型号"}},
    {"product_type", {"Model identifier", "Identificativo modello", "Identifiant du modèle", "型号标识符"}},
    {"unknown_device", {"Unknown device", "Dispositivo sconosciuto", "Appareil inconnu", "未知设备"}},
    {"serial", {"Serial number", "Numero di serie", "Numéro de série", "序列号"}},
    {"ios", {"iOS version", "Versione iOS", "Version d’iOS", "iOS 版本"}},
    {"udid", {"UDID", "UDID", "UDID", "UDID"}},
    {"mode", {"Mode", "Modalità", "Mode", "模式"}},
    {"result", {"Result", "Esito", "Résultat", "结果"}},
    {"outcome_pass", {"No faults found", "Nessun guasto rilevato", "Aucune panne détectée", "未发现故障"}},
    {"outcome_fail", {"Faults found", "Guasti rilevati", "Pannes détectées", "发现故障"}},
    {"outcome_incomplete",
     {"Diagnosis incomplete", "Diagnosi incompleta", "Diagnostic incomplet", "诊断未完成"}},
    {"faults", {"Faults", "Guasti", "Pannes", "故障"}},
    {"no_faults", {"None.", "Nessuno.", "Aucune.", "无。"}},
    {"part", {"Part to replace", "Parte da sostituire", "Pièce à remplacer", "需更换部件"}},
    {"action", {"Action", "Intervento", "Action", "处理措施"}},
    {"evidence", {"Evidence", "Evidenze", "Éléments techniques", "技术依据"}},
    {"found_by", {"Found by", "Rilevato da", "Détecté par", "检出自"}},
    {"sev_critical", {"critical", "critico", "critique", "严重"}},
    {"sev_major", {"major", "grave", "majeur", "重要"}},
    {"sev_minor", {"minor", "lieve", "mineur", "轻微"}},
    {"sev_info", {"information", "informazione", "information", "提示"}},
    {"readings", {"Readings", "Misure", "Mesures", "读数"}},
    {"battery", {"Battery", "Batteria", "Batterie", "电池"}},
    {"health",
     {"Battery health (maximum capacity)", "Salute della batteria (capacità massima)",
      "État de la batterie (capacité maximale)", "电池健康度（最大容量）"}},
    {"capacity", {"capacity", "capacità", "capacité", "容量"}},
    {"design", {"design", "di progetto", "d’origine", "设计"}},
    {"cycles", {"Charge cycles", "Cicli di carica", "Cycles de charge", "充电循环次数"}},
    {"temperature", {"Temperature", "Temperatura", "Température", "温度"}},
    {"no_reading", {"no reading", "nessuna lettura", "aucune mesure", "无读数"}},
    {"storage", {"Storage", "Memoria", "Stockage", "存储空间"}},
    {"storage_fmt",
     {"%s free / %s total", "%s liberi / %s totali", "%s libres / %s au total", "可用 %s / 共 %s"}},
    {"crashes", {"Crash reports", "Rapporti di arresto anomalo", "Rapports de plantage", "崩溃报告"}},
    {"panics", {"kernel panics", "panic del kernel", "paniques du noyau", "内核崩溃"}},
    {"resets", {"forced restarts", "riavvii forzati", "redémarrages forcés", "强制重启"}},
    {"signatures", {"Log signatures", "Firme nel registro", "Signatures dans le journal", "日志特征"}},
    {"probe_errors",
     {"Readings that could not be taken", "Letture non riuscite", "Lectures impossibles", "未能读取的项目"}},
    {"questions",
     {"Questions for the technician", "Domande per il tecnico", "Questions pour le technicien",
      "需技术员回答的问题"}},
    {"answer_with", {"answer with", "rispondere con", "répondre avec", "回答方式"}},
    {"answers", {"Technician answers", "Risposte del tecnico", "Réponses du technicien", "技术员的回答"}},
    {"tree_errors",
     {"Diagnostic tree errors", "Errori degli alberi diagnostici", "Erreurs des arbres de diagnostic",
      "诊断树错误"}},
    {"trees", {"Diagnostic trees", "Alberi diagnostici", "Arbres de diagnostic", "诊断树"}},
    {"nodes", {"Nodes visited", "Nodi visitati", "Nœuds visités", "已访问节点"}},
    {"colon", {": ", ": ", " : ", "："}},
    {"colon_eol", {":", ":", " :", "："}},
    {"signature", {"Signature", "Firma", "Signature", "签名"}},
    {"verified", {"verified", "verificata", "vérifiée", "已验证"}},
    {"not_verified", {"DOES NOT VERIFY", "NON VERIFICATA", "NON VÉRIFIÉE", "验证失败"}},
    {"warning",
     {"Warning: the signature of this report does not verify. It may have been altered: do not rely on it.",
      "Attenzione: la firma di questo rapporto non è valida. Potrebbe essere stato modificato: non "
      "fidatevi del contenuto.",
      "Attention : la signature de ce rapport n’est pas valide. Il a pu être modifié : ne vous y fiez pas.",
      "警告：本报告的签名验证失败，内容可能已被篡改，请勿采信。"}},
    {"key_id", {"Key id", "ID della chiave", "Identifiant de clé", "密钥 ID"}},
    {"how_verify", {"How to verify", "Come verificare", "Comment vérifier", "如何验证"}},
    {"verify_text",
     {"This report is signed by the repair bench (Ed25519). To check that nobody has changed it, run:",
      "Questo rapporto è firmato dal banco di riparazione (Ed25519). Per controllare che nessuno lo "
      "abbia modificato, eseguire:",
      "Ce rapport est signé par le banc de réparation (Ed25519). Pour vérifier que personne ne l’a "
      "modifié, lancez :",
      "本报告由维修检测台签名（Ed25519）。如需确认报告未被修改，请运行："}},
    {"report_id", {"Report", "Rapporto", "Rapport", "报告编号"}},
    {"created", {"Created", "Creato", "Créé", "生成时间"}},
    {"captured", {"Device read at", "Lettura del dispositivo", "Lecture de l’appareil", "设备读取时间"}},
    {"bench", {"Bench", "Banco", "Banc", "检测台"}},
    {"ticket", {"Ticket", "Pratica", "Dossier", "工单"}},
    {"technical", {"Technical details", "Dettagli tecnici", "Détails techniques", "技术细节"}},
    {"snapshot", {"Snapshot SHA-256", "SHA-256 della lettura", "SHA-256 de la lecture", "读取数据 SHA-256"}},
    {"none", {"none", "nessuno", "aucun", "无"}},
    {"gauge_label",
     {"Battery health %s", "Salute della batteria %s", "État de la batterie %s", "电池健康度 %s"}},
    {"incomplete_why",
     {"Why the diagnosis is incomplete", "Perché la diagnosi è incompleta",
      "Pourquoi le diagnostic est incomplet", "诊断未完成的原因"}},
    {"case_id", {"Case id", "ID del caso", "Identifiant de la prise en charge", "案例 ID"}},
    {"revision", {"Revision", "Revisione", "Révision", "修订版本"}},
    {"supersedes", {"Supersedes", "Sostituisce", "Remplace", "取代"}},
    {"utc", {"UTC", "UTC", "UTC", "UTC"}},
    {"history", {"Battery history", "Storico della batteria", "Historique de la batterie", "电池历史记录"}},
    {"history_row",
     {"%s % health, %s cycles", "salute %s %, %s cicli", "état %s %, %s cycles", "健康度 %s%，%s 次循环"}},
    {"battery_serial",
     {"battery serial", "seriale della batteria", "n° de série de la batterie", "电池序列号"}},
    {"forecast", {"Battery forecast", "Previsione della batteria", "Prévision de la batterie", "电池预测"}},
    {"forecast_basis",
     {"based on %s visits, %s cycles over %s days", "in base a %s visite, %s cicli in %s giorni",
      "d’après %s visites, %s cycles sur %s jours", "依据 %s 次检测、%s 次循环、%s 天"}},
    {"how_verify_cmd",
     {"To check the signature", "Per verificare la firma", "Pour vérifier la signature", "验证签名"}},
    /* The customer view (DESIGN.md 4.8): plain words, one printed page. */
    {"cust_title", {"Phone check", "Controllo del telefono", "Bilan de votre téléphone", "手机检测报告"}},
    {"your_phone", {"phone", "telefono", "téléphone", "手机"}},
    {"head_pass",
     {"Your %s passed every check.", "Il tuo %s ha superato tutti i controlli.",
      "Votre %s a réussi tous les contrôles.", "您的 %s 通过了所有检测。"}},
    {"head_battery",
     {"Your %s needs a new battery.", "Il tuo %s ha bisogno di una batteria nuova.",
      "Votre %s a besoin d’une nouvelle batterie.", "您的 %s 需要更换电池。"}},
    {"head_one_part",
     {"Your %s needs a repair: %s.", "Il tuo %s ha bisogno di una riparazione: %s.",
      "Votre %s a besoin d’une réparation : %s.", "您的 %s 需要维修：%s。"}},
    {"head_parts",
     {"Your %s needs %s parts replaced.", "Il tuo %s ha bisogno di sostituire %s parti.",
      "Sur votre %s, %s pièces sont à remplacer.", "您的 %s 需要更换 %s 个部件。"}},
    {"head_check",
     {"Your %s needs a closer look: our technician will test it further.",
      "Il tuo %s richiede un controllo più approfondito: il nostro tecnico lo esaminerà ancora.",
      "Votre %s demande un examen plus poussé : notre technicien va le tester davantage.",
      "您的 %s 需要进一步检查：我们的技术员会继续测试。"}},
    {"head_attention",
     {"Your %s works, but needs your attention.", "Il tuo %s funziona, ma richiede la tua attenzione.",
      "Votre %s fonctionne, mais demande votre attention.", "您的 %s 可以正常使用，但有需要您注意的事项。"}},
    {"head_incomplete",
     {"We could not finish checking your %s.", "Non abbiamo potuto completare il controllo del tuo %s.",
      "Nous n’avons pas pu terminer le contrôle de votre %s.", "我们未能完成对您的 %s 的检测。"}},
    {"head_waiting",
     {"The check of your %s is not finished yet: our technician still has a test to do.",
      "Il controllo del tuo %s non è ancora finito: il nostro tecnico deve fare ancora una prova.",
      "Le contrôle de votre %s n’est pas encore terminé : notre technicien doit encore faire un test.",
      "您的 %s 检测尚未完成：我们的技术员还需进行一项测试。"}},
    {"why", {"Why", "Perché", "Pourquoi", "原因"}},
    {"parts", {"Parts to replace", "Parti da sostituire", "Pièces à remplacer", "需更换的部件"}},
    {"found", {"What we found", "Cosa abbiamo trovato", "Ce que nous avons trouvé", "检测结果"}},
    {"group_check",
     {"To be checked further", "Da verificare ancora", "À vérifier davantage", "需进一步检查"}},
    {"group_advice", {"Good to know", "Da sapere", "Bon à savoir", "温馨提示"}},
    {"possible_cause", {"possible cause: %s", "causa possibile: %s", "cause possible : %s", "可能原因：%s"}},
    {"nothing_found",
     {"We found nothing wrong.", "Non abbiamo trovato nessun problema.",
      "Nous n’avons trouvé aucun problème.", "我们没有发现任何问题。"}},
    {"cust_sev_critical", {"Urgent", "Urgente", "Urgent", "紧急"}},
    {"cust_sev_major", {"Needs repair", "Da riparare", "À réparer", "需维修"}},
    {"cust_sev_minor", {"Recommended", "Consigliato", "Conseillé", "建议处理"}},
    {"cust_sev_info", {"For your information", "Per informazione", "Pour information", "供参考"}},
    {"battery_health", {"Battery health", "Salute della batteria", "État de la batterie", "电池健康度"}},
    {"checked_on", {"Checked on %s", "Controllato il %s", "Contrôlé le %s", "检测时间：%s"}},
    {"trend_label",
     {"Battery health over time", "Salute della batteria nel tempo", "État de la batterie au fil du temps",
      "电池健康度变化"}},
    {"today", {"today", "oggi", "aujourd’hui", "今天"}},
    {"signed_note",
     {"This report is signed by our repair bench: if anyone changed it, the signature would no longer match.",
      "Questo rapporto è firmato dal nostro banco di riparazione: se qualcuno lo modificasse, la firma non "
      "corrisponderebbe più.",
      "Ce rapport est signé par notre banc de réparation : s’il était modifié, la signature ne "
      "correspondrait plus.",
      "本报告由我们的维修检测台签名：如有任何改动，签名将不再匹配。"}},
    {"or", {" or ", " o ", " ou ", "或"}},
    {"list_sep", {", ", ", ", ", ", "、"}},
    /* The battery trend (DESIGN.md 4.9): readings.battery_forecast in one sentence. */
    {"fc_range",
     {"At this rate your battery reaches 80 % in %s to %s months.",
      "Di questo passo la batteria arriverà all’80 % tra %s e %s mesi.",
      "À ce rythme, votre batterie atteindra 80 % dans %s à %s mois.",
      "按目前的速度，您的电池将在 %s 到 %s 个月后降至 80%。"}},
    {"fc_about",
     {"At this rate your battery reaches 80 % in about %s months.",
      "Di questo passo la batteria arriverà all’80 % tra circa %s mesi.",
      "À ce rythme, votre batterie atteindra 80 % dans environ %s mois.",
      "按目前的速度，您的电池大约 %s 个月后降至 80%。"}},
    {"fc_soon",
     {"At this rate your battery reaches 80 % within a month.",
      "Di questo passo la batteria arriverà all’80 % entro un mese.",
      "À ce rythme, votre batterie atteindra 80 % d’ici un mois.",
      "按目前的速度，您的电池将在一个月内降至 80%。"}},
    {"fc_range_years",
     {"At this rate your battery reaches 80 % in %s to %s years.",
      "Di questo passo la batteria arriverà all’80 % tra %s e %s anni.",
      "À ce rythme, votre batterie atteindra 80 % dans %s à %s ans.",
      "按目前的速度，您的电池将在 %s 到 %s 年后降至 80%。"}},
    {"fc_about_years",
     {"At this rate your battery reaches 80 % in about %s years.",
      "Di questo passo la batteria arriverà all’80 % tra circa %s anni.",
      "À ce rythme, votre batterie atteindra 80 % dans environ %s ans.",
      "按目前的速度，您的电池大约 %s 年后降至 80%。"}},
    {"fc_open",
     {"At this rate your battery reaches 80 % in %s months at the soonest, perhaps much later.",
      "Di questo passo la batteria arriverà all’80 % tra non meno di %s mesi, forse molto più tardi.",
      "À ce rythme, votre batterie atteindra 80 % dans %s mois au plus tôt, peut-être bien plus tard.",
      "按目前的速度，您的电池最早 %s 个月后降至 80%，也可能晚得多。"}},
    {"fc_beyond",
     {"At this rate your battery stays above 80 % for five years or more.",
      "Di questo passo la batteria resterà sopra l’80 % per cinque anni o più.",
      "À ce rythme, votre batterie restera au-dessus de 80 % pendant cinq ans ou plus.",
      "按目前的速度，您的电池在五年或更长时间内都将保持在 80% 以上。"}},
    {"fc_too_early",
     {"It is too early to tell how fast your battery is wearing: we will know more after another visit.",
      "È ancora presto per dire quanto velocemente si consuma la batteria: ne sapremo di più alla prossima "
      "visita.",
      "Il est encore trop tôt pour dire à quelle vitesse votre batterie s’use : nous en saurons plus à votre "
      "prochaine visite.",
      "现在判断电池的老化速度还为时过早：下次检测后我们会了解更多。"}},
    {"fc_below_80",
     {"Your battery is already below 80 % of its original capacity.",
      "La batteria è già sotto l’80 % della capacità originale.",
      "Votre batterie est déjà sous 80 % de sa capacité d’origine.", "您的电池容量已低于原始容量的 80%。"}},
    {"fc_new_battery",
     {"Your battery is new: we will see how it wears at your next visits.",
      "La batteria è nuova: vedremo come si consuma alle prossime visite.",
      "Votre batterie est neuve : nous verrons comment elle s’use lors de vos prochaines visites.",
      "您的电池是新的：我们会在之后的检测中观察它的老化情况。"}},
};

static int
lang_index(const char *lang)
{
	static const char *const langs[] = {"en", "it", "fr", "zh"};

	for (int i = 0; i < 4; i++)
		if (lang != NULL && strcmp(lang, langs[i]) == 0)
			return i;
	return 0;
}

const char *
i18n_label(const char *lang, const char *key)
{
	int li = lang_index(lang);

	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strcmp(labels[i].key, key) == 0)
			return labels[i].text[li];
	return key;
}

const char *
i18n_incomplete_label(void)
{
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		for (int l = 0; l < 4; l++)
			if (labels[i].text[l] == NULL || labels[i].text[l][0] == '\0')
				return labels[i].key;
	return NULL;
}

int
i18n_known_lang(const char *lang)
{
	return lang != NULL && (strcmp(lang, "en") == 0 || strcmp(lang, "it") == 0 ||
	                        strcmp(lang, "fr") == 0 || strcmp(lang, "zh") == 0);
}

static const char *const months[4][12] = {
    {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
     "November", "December"},
    {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre",
     "novembre", "dicembre"},
    {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
     "novembre", "décembre"},
    {NULL},
};
static const char *const months_short[4][12] = {
    {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
    {"gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"},
    {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
    {NULL},
};

void
i18n_datetime(const char *lang, const struct tm *tm, const char *zone, char *out, size_t outlen)
{
	int li = lang_index(lang), mon = tm->tm_mon >= 0 && tm->tm_mon < 12 ? tm->tm_mon : 0;
	const char *z = zone != NULL ? zone : "";
	const char *sp = *z ? " " : "";

	if (li == 3)
		snprintf(out, outlen, "%d年%d月%d日 %02d:%02d%s%s", tm->tm_year + 1900, mon + 1, tm->tm_mday,
		         tm->tm_hour, tm->tm_min, sp, z);
	else
		snprintf(out, outlen, "%d %s %d%s%02d:%02d%s%s", tm->tm_mday, months[li][mon],
		         tm->tm_year + 1900, li == 2 ? " à " : ", ", tm->tm_hour, tm->tm_min, sp, z);
}

void
i18n_date(const char *lang, const struct tm *tm, char *out, size_t outlen)
{
	int li = lang_index(lang), mon = tm->tm_mon >= 0 && tm->tm_mon < 12 ? tm->tm_mon : 0;

	if (li == 3)
		snprintf(out, outlen, "%d年%d月%d日", tm->tm_year + 1900, mon + 1, tm->tm_mday);
	else
		snprintf(out, outlen, "%d %s %d", tm->tm_mday, months[li][mon], tm->tm_year + 1900);
}

void
i18n_month_year(const char *lang, const struct tm *tm, char *out, size_t outlen)
{
	int li = lang_index(lang), mon = tm->tm_mon >= 0 && tm->tm_mon < 12 ? tm->tm_mon : 0;

	if (li == 3)
		snprintf(out, outlen, "%d年%d月", tm->tm_year + 1900, mon + 1);
	else
		snprintf(out, outlen, "%s %d", months_short[li][mon], tm->tm_year + 1900);
}
